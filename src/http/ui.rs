//! The web UI (DESIGN §7): the static files of `web/`, embedded in the binary at build time so
//! a node serves its own UI with nothing beside it. `/` is the app's page; its scripts and
//! styles are under `/web/`.
//!
//! The file names carry no content hash, so a browser must ask again each time (`no-cache`);
//! the ETag (the file's SHA-256) makes that a 304 when nothing changed.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use super::AppState;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(index))
        .route("/web/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    file(&path, &headers)
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    let Some(f) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let etag = format!(
        "\"{}\"",
        f.metadata
            .sha256_hash()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex is a valid header value"),
        ),
    ];
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    if unchanged {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mime = HeaderValue::from_str(f.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (cache, [(header::CONTENT_TYPE, mime)], f.data).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(r: &Response, name: header::HeaderName) -> &str {
        r.headers().get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn files_come_with_their_type_and_revalidate_by_etag() {
        let none = HeaderMap::new();
        let page = file("index.html", &none);
        assert_eq!(page.status(), StatusCode::OK);
        assert!(header_of(&page, header::CONTENT_TYPE).starts_with("text/html"));
        assert_eq!(header_of(&page, header::CACHE_CONTROL), "no-cache");

        let script = file("app.js", &none);
        assert!(header_of(&script, header::CONTENT_TYPE).contains("javascript"));

        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, page.headers()[header::ETAG].clone());
        assert_eq!(
            file("index.html", &again).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(file("app.js", &again).status(), StatusCode::OK);

        assert_eq!(file("nope.js", &none).status(), StatusCode::NOT_FOUND);
        assert_eq!(file("../Cargo.toml", &none).status(), StatusCode::NOT_FOUND);
    }
}
