//! The `--peers` list: `1=host:port,2=host:port,...`.

use std::collections::BTreeMap;

use forest_storage::NodeId;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PeersError {
    #[error("peer {0:?} is not of the form ID=HOST:PORT")]
    Form(String),
    #[error("peer id {0:?} is not a positive integer")]
    Id(String),
    #[error("peer {id}: address {addr:?} is not HOST:PORT")]
    Addr { id: NodeId, addr: String },
    #[error("peer id {0} is listed twice")]
    Duplicate(NodeId),
    #[error("this node's id {0} is not in --peers")]
    SelfMissing(NodeId),
}

/// Parses `--peers`. Empty input is an empty map (a single-node cluster).
pub fn parse(s: &str) -> Result<BTreeMap<NodeId, String>, PeersError> {
    let mut peers = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .ok_or_else(|| PeersError::Form(item.to_string()))?;
        let id: NodeId = id
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| PeersError::Id(id.to_string()))?;
        let addr = addr.trim();
        let valid = addr.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(PeersError::Addr {
                id,
                addr: addr.to_string(),
            });
        }
        if peers.insert(id, addr.to_string()).is_some() {
            return Err(PeersError::Duplicate(id));
        }
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_three_node_list() {
        let p = parse("1=127.0.0.1:7071, 2=127.0.0.1:7072,3=host:7073").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[&2], "127.0.0.1:7072");
    }

    #[test]
    fn rejects_malformed_lists() {
        assert_eq!(
            parse("127.0.0.1:7071"),
            Err(PeersError::Form("127.0.0.1:7071".into()))
        );
        assert_eq!(parse("x=h:1"), Err(PeersError::Id("x".into())));
        assert_eq!(parse("0=h:1"), Err(PeersError::Id("0".into())));
        assert!(matches!(parse("1=h"), Err(PeersError::Addr { .. })));
        assert!(matches!(parse("1=h:99999"), Err(PeersError::Addr { .. })));
        assert_eq!(parse("1=h:1,1=h:2"), Err(PeersError::Duplicate(1)));
    }
}
