//! The allow-lists' rules, without any process or network.

use super::*;

fn shell(allow_shell: bool, patterns: &[&str]) -> ShellPolicy {
    let patterns = patterns
        .iter()
        .map(|p| CommandPattern::parse(p).unwrap())
        .collect();
    ShellPolicy::new(allow_shell, patterns)
}

fn http(patterns: &[&str]) -> HttpPolicy {
    HttpPolicy::new(
        patterns
            .iter()
            .map(|p| HostPattern::parse(p).unwrap())
            .collect(),
    )
}

fn allows(policy: &HttpPolicy, url: &str) -> bool {
    policy.check(&Url::parse(url).unwrap()).is_ok()
}

#[test]
fn without_allow_shell_no_command_runs_and_the_refusal_names_the_flag() {
    let e = shell(false, &[]).check("true").unwrap_err();
    assert_eq!(
        e.to_string(),
        "refused: shell commands are not allowed on this worker (start it with --allow-shell)"
    );
}

#[test]
fn allow_shell_alone_runs_anything() {
    assert!(shell(true, &[]).check("rm -rf /tmp/x").is_ok());
}

#[test]
fn a_pattern_must_match_the_whole_command() {
    let p = shell(true, &["echo [a-z ]*"]);
    assert!(p.check("echo hi").is_ok());
    for refused in [
        "rm -rf /tmp/x",
        "echo hi; rm -rf /tmp/x",
        "echo hi\nrm -rf /tmp/x",
        "x; echo hi",
    ] {
        let e = p.check(refused).unwrap_err();
        assert!(e.to_string().contains("--shell-allow"), "{refused:?}: {e}");
        assert!(
            !e.to_string().contains("rm"),
            "the command is not echoed: {e}"
        );
    }
    // Anchors the user writes are harmless, and an alternation cannot escape the anchoring.
    assert!(shell(true, &["^echo .*$"]).check("echo hi").is_ok());
    let alt = shell(true, &["true|echo hi"]);
    assert!(alt.check("true").is_ok());
    assert!(alt.check("true; rm -rf /").is_err());
}

#[test]
fn any_one_of_several_patterns_lets_a_command_through() {
    let p = shell(true, &["backup\\.sh", "echo [a-z]+"]);
    assert!(p.check("backup.sh").is_ok());
    assert!(p.check("echo hi").is_ok());
    assert!(p.check("backup.sh --all").is_err());
}

#[test]
fn a_bad_regex_is_an_error_that_names_it() {
    let e = CommandPattern::parse("echo (").unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("--shell-allow \"echo (\" is not a regex"),
        "{text}"
    );
    // Unbalanced on its own, balanced once wrapped: still refused.
    assert!(CommandPattern::parse("a)|(b").is_err());
}

#[test]
fn no_host_listed_refuses_every_call() {
    let p = http(&[]);
    let e = p.check_open().unwrap_err();
    assert_eq!(
        e.to_string(),
        "refused: HTTP calls are not allowed on this worker (start it with --http-allow HOST)"
    );
    assert!(!allows(&p, "http://127.0.0.1/"));
}

#[test]
fn a_host_without_a_port_allows_every_port_and_with_one_only_that() {
    let p = http(&["api.example.com", "127.0.0.1:8080"]);
    assert!(allows(&p, "https://api.example.com/hook"));
    assert!(allows(&p, "http://API.Example.com:9000/"));
    assert!(allows(&p, "http://127.0.0.1:8080/x"));
    assert!(!allows(&p, "http://127.0.0.1:8081/x"));
    assert!(!allows(&p, "http://127.0.0.1/x"));
    assert!(!allows(&p, "https://example.com/"));
    assert!(!allows(&p, "https://api.example.com.evil.net/"));
    let e = p
        .check(&Url::parse("http://localhost:8080/").unwrap())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "refused: localhost:8080 is not in this worker's --http-allow list"
    );
}

#[test]
fn a_default_port_is_the_schemes() {
    let p = http(&["example.com:443"]);
    assert!(allows(&p, "https://example.com/"));
    assert!(!allows(&p, "http://example.com/"));
}

#[test]
fn a_star_dot_pattern_allows_names_under_the_domain_only() {
    let p = http(&["*.example.com"]);
    assert!(allows(&p, "https://a.example.com/"));
    assert!(allows(&p, "https://a.b.example.com:8443/"));
    assert!(!allows(&p, "https://example.com/"));
    assert!(!allows(&p, "https://badexample.com/"));
    assert!(!allows(&p, "http://1.2.3.4/"));
}

#[test]
fn a_lone_star_allows_every_host_and_may_keep_a_port() {
    assert!(allows(&http(&["*"]), "http://10.1.2.3:1234/"));
    let p = http(&["*:443"]);
    assert!(allows(&p, "https://anything.example/"));
    assert!(!allows(&p, "http://anything.example/"));
}

#[test]
fn addresses_are_compared_as_addresses() {
    let p = http(&["[::1]:8080", "127.1"]);
    assert!(allows(&p, "http://[0:0::1]:8080/"));
    assert!(!allows(&p, "http://[::1]:8081/"));
    assert!(allows(&p, "http://127.0.0.1:5/"));
}

#[test]
fn a_url_without_a_host_is_refused() {
    let e = http(&["*"])
        .check(&Url::parse("file:///etc/passwd").unwrap())
        .unwrap_err();
    assert_eq!(e.to_string(), "refused: the URL has no host");
}

#[test]
fn bad_host_patterns_are_errors_that_name_them() {
    for (pattern, why) in [
        ("", "not a host name"),
        ("example.com:http", "port"),
        ("example.com:70000", "port"),
        ("::1", "brackets"),
        ("[::1", "unclosed"),
        ("[::1]x", ":PORT"),
        ("api.*.com", "`*`"),
        ("*example.com", "`*`"),
        ("*.1.2.3.4", "domain name"),
        ("a b", "not a host name"),
    ] {
        let e = HostPattern::parse(pattern).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("--http-allow {pattern:?} is not")) && e.contains(why),
            "{pattern:?}: {e}"
        );
    }
}

#[test]
fn the_start_up_line_shows_the_hosts_normalised() {
    assert_eq!(http(&[]).to_string(), "refused");
    assert_eq!(
        http(&["API.example.com", "*.Example.com:443", "[::1]:80", "*"]).to_string(),
        "api.example.com, *.example.com:443, [::1]:80, *"
    );
    assert_eq!(shell(false, &["x"]).to_string(), "refused");
    assert_eq!(shell(true, &[]).to_string(), "any command");
}
