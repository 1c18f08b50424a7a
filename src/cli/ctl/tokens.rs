//! `forest ctl token`: API tokens. The token text is printed once, at creation; nothing shows
//! it again.

use clap::Subcommand;
use serde_json::json;

use super::api::{escape, Api};
use super::jobs::items;
use crate::cli::render::{plain, table};
use crate::cli::Output;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; prints it (the only time it is shown).
    Create {
        /// viewer reads; operator also runs, pauses, resumes and withdraws snapshots; admin
        /// also edits jobs, groups, tokens and membership; worker serves its groups' runs.
        #[arg(long, value_parser = ["viewer", "operator", "admin", "worker"])]
        role: String,
        /// Limit it to this group (repeat for several); none: every group.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// When it stops working (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        /// What it is for.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Every token: id, role, groups, expiry (never the secret).
    List,
    /// Make a token stop working.
    Revoke { id: String },
}

pub async fn run(api: &Api, out: Output, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            role,
            groups,
            expires,
            name,
        } => {
            let expires_at = expires
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(&t).map_err(|e| {
                        anyhow::anyhow!("--expires {t:?} is not an RFC 3339 time: {e}")
                    })
                })
                .transpose()?;
            let body =
                json!({"name": name, "role": role, "groups": groups, "expiresAt": expires_at});
            let made = api.post("/tokens", &body).await?;
            out.print(&made.text, &plain(&made.json["token"]));
        }
        TokenCommand::List => {
            let list = api.get("/tokens").await?;
            let rows: Vec<Vec<String>> = items(&list.json)
                .iter()
                .map(|t| {
                    let groups = t["groups"].as_array().map_or(String::new(), |g| {
                        g.iter().map(plain).collect::<Vec<_>>().join(",")
                    });
                    vec![
                        plain(&t["id"]),
                        plain(&t["role"]),
                        groups,
                        t["expiresAt"].as_str().unwrap_or("").to_string(),
                        plain(&t["name"]),
                    ]
                })
                .collect();
            out.print(
                &list.text,
                &table(&["ID", "ROLE", "GROUPS", "EXPIRES", "NAME"], &rows),
            );
        }
        TokenCommand::Revoke { id } => {
            api.call(
                reqwest::Method::DELETE,
                &format!("/tokens/{}", escape(&id)),
                None,
            )
            .await?;
            out.print(
                &json!({ "revoked": id }).to_string(),
                &format!("token {id} revoked"),
            );
        }
    }
    Ok(())
}
