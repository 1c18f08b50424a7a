//! What `forest worker` agrees to run. Whoever can create a job chooses its target and params,
//! so a worker that ran any command or called any URL would hand every API user a shell on its
//! machine and a foothold in its network. Both targets are therefore closed by default:
//!
//! - `shell` runs nothing unless the worker is started with `--allow-shell`; `--shell-allow
//!   REGEX` (repeatable) then narrows it to commands that one of the regexes matches as a
//!   whole, from the first character to the last: `echo [a-z ]*` lets `echo hi` through but
//!   not `echo hi; rm -rf /` (`.` does not match a newline, so no second line slips by either).
//! - `http` calls nothing unless hosts are listed with `--http-allow`: `HOST` (any port),
//!   `HOST:PORT`, `*.DOMAIN` (any name under DOMAIN, not DOMAIN itself) or `*` (every host),
//!   IPv6 addresses in brackets. Hosts are compared as the URL writes them, after the usual
//!   normalisation (lower case, punycode, `127.1` is `127.0.0.1`), with no DNS lookup:
//!   `localhost` is not `127.0.0.1`. Redirects are checked like the first URL.
//!
//! A job the worker may not run ends at once, before anything is started, with status -1
//! (error) and a result that begins with `refused:` and says which flag would allow it. Error
//! rather than a code of its own, because every part of Forest already handles it as intended:
//! the history, the UI and the original clients show it as a failure, failure alerts fire, and
//! a job with retries is retried on another worker of the group (a retry avoids the worker
//! that failed), which may allow it. The SDK logs the result as a warning under the run's span,
//! which names the job and the snapshot; the message never holds the command, only, for HTTP,
//! the refused host.

use std::fmt;

use regex::Regex;
use reqwest::Url;
use url::Host;

/// Why a job was not run; its display is the run's result text.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(String);

/// A flag value that cannot be used; it names the flag and the value.
#[derive(Debug, thiserror::Error)]
pub enum AllowError {
    #[error("--shell-allow {pattern:?} is not a regex: {source}")]
    Regex {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("--http-allow {pattern:?} is not HOST, HOST:PORT, *.DOMAIN or *: {reason}")]
    Host { pattern: String, reason: String },
}

/// One `--shell-allow` regex, matched against the whole command.
#[derive(Debug, Clone)]
pub struct CommandPattern(Regex);

impl CommandPattern {
    pub fn parse(pattern: &str) -> Result<CommandPattern, AllowError> {
        let bad = |source| AllowError::Regex {
            pattern: pattern.to_string(),
            source,
        };
        // Checked alone first: only a complete regex can be wrapped safely (`a)|(b` would
        // otherwise turn the anchors into alternatives).
        Regex::new(pattern).map_err(bad)?;
        Regex::new(&format!(r"\A(?:{pattern})\z"))
            .map(CommandPattern)
            .map_err(bad)
    }

    fn matches(&self, command: &str) -> bool {
        self.0.is_match(command)
    }
}

/// Which commands the `shell` target runs.
#[derive(Debug, Clone)]
pub enum ShellPolicy {
    /// None (no `--allow-shell`).
    Closed,
    /// Any (`--allow-shell` alone).
    Open,
    /// Those one of the patterns matches (`--allow-shell --shell-allow …`).
    Matching(Vec<CommandPattern>),
}

impl ShellPolicy {
    pub fn new(allow_shell: bool, patterns: Vec<CommandPattern>) -> ShellPolicy {
        match (allow_shell, patterns.is_empty()) {
            (false, _) => ShellPolicy::Closed,
            (true, true) => ShellPolicy::Open,
            (true, false) => ShellPolicy::Matching(patterns),
        }
    }

    pub fn check(&self, command: &str) -> Result<(), Refused> {
        match self {
            ShellPolicy::Open => Ok(()),
            ShellPolicy::Matching(patterns) if patterns.iter().any(|p| p.matches(command)) => {
                Ok(())
            }
            ShellPolicy::Matching(_) => Err(Refused(
                "the command matches none of this worker's --shell-allow patterns".into(),
            )),
            ShellPolicy::Closed => Err(Refused(
                "shell commands are not allowed on this worker (start it with --allow-shell)"
                    .into(),
            )),
        }
    }
}

/// For the worker's start-up line.
impl fmt::Display for ShellPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShellPolicy::Closed => f.write_str("refused"),
            ShellPolicy::Open => f.write_str("any command"),
            ShellPolicy::Matching(p) => write!(f, "commands matching {} pattern(s)", p.len()),
        }
    }
}

/// One `--http-allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: HostMatch,
    /// None: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(Host),
    /// Names ending with this, which starts with a dot.
    Under(String),
}

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<HostPattern, AllowError> {
        let bad = |reason: &str| AllowError::Host {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        let (host, port) = split_port(pattern).map_err(bad)?;
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not 0..=65535"))
            })
            .transpose()?;
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            match parse_host(domain).map_err(bad)? {
                Host::Domain(d) => HostMatch::Under(format!(".{d}")),
                _ => return Err(bad("`*.` goes before a domain name, not an address")),
            }
        } else {
            HostMatch::Exact(parse_host(host).map_err(bad)?)
        };
        Ok(HostPattern { host, port })
    }

    fn matches(&self, host: &Host<&str>, port: Option<u16>) -> bool {
        let host_ok = match (&self.host, host) {
            (HostMatch::Any, _) => true,
            (HostMatch::Exact(want), got) => *want == got.to_owned(),
            (HostMatch::Under(suffix), Host::Domain(name)) => name.ends_with(suffix.as_str()),
            (HostMatch::Under(_), _) => false,
        };
        host_ok && self.port.is_none_or(|want| port == Some(want))
    }
}

/// `HOST[:PORT]` or `[IPV6][:PORT]` into the host (brackets kept) and the port's text.
fn split_port(pattern: &str) -> Result<(&str, Option<&str>), &'static str> {
    let host_end = if pattern.starts_with('[') {
        pattern.find(']').ok_or("an unclosed `[`")? + 1
    } else {
        pattern.find(':').unwrap_or(pattern.len())
    };
    let (host, rest) = pattern.split_at(host_end);
    match rest.strip_prefix(':') {
        Some(port) if port.contains(':') => Err("an IPv6 address goes in brackets: [::1]:8080"),
        Some(port) => Ok((host, Some(port))),
        None if rest.is_empty() => Ok((host, None)),
        None => Err("text after the host that is not :PORT"),
    }
}

/// A host as a URL would hold it; a `*` left inside is refused rather than taken literally.
fn parse_host(host: &str) -> Result<Host, &'static str> {
    match Host::parse(host) {
        Ok(Host::Domain(d)) if d.contains('*') => {
            Err("`*` may only be the whole host or lead as `*.DOMAIN`")
        }
        Ok(parsed) => Ok(parsed),
        Err(_) => Err("not a host name or address"),
    }
}

/// The hosts the `http` target calls.
#[derive(Debug, Clone, Default)]
pub struct HttpPolicy(Vec<HostPattern>);

impl HttpPolicy {
    pub fn new(patterns: Vec<HostPattern>) -> HttpPolicy {
        HttpPolicy(patterns)
    }

    /// Refused when no host is listed at all, whatever the job asks.
    pub fn check_open(&self) -> Result<(), Refused> {
        if self.0.is_empty() {
            return Err(Refused(
                "HTTP calls are not allowed on this worker (start it with --http-allow HOST)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn check(&self, url: &Url) -> Result<(), Refused> {
        self.check_open()?;
        let Some(host) = url.host() else {
            return Err(Refused("the URL has no host".into()));
        };
        let port = url.port_or_known_default();
        if self.0.iter().any(|p| p.matches(&host, port)) {
            return Ok(());
        }
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        Err(Refused(format!(
            "{host}{port} is not in this worker's --http-allow list"
        )))
    }
}

/// For the worker's start-up line.
impl fmt::Display for HttpPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("refused");
        }
        let hosts: Vec<String> = self.0.iter().map(HostPattern::to_string).collect();
        f.write_str(&hosts.join(", "))
    }
}

/// As it would be given to `--http-allow`, normalised.
impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostMatch::Any => f.write_str("*")?,
            HostMatch::Exact(host) => write!(f, "{host}")?,
            HostMatch::Under(suffix) => write!(f, "*{suffix}")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
