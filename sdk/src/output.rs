//! Bounded output. A run can print without end, but what travels and what is kept is capped:
//! each Progress message and the result text carry at most [`MAX_OUTPUT_BYTES`], and a run
//! keeps only the last [`MAX_OUTPUT_BYTES`] of its output for its Result (the end of a log is
//! where the error usually is). Cuts fall on character boundaries, so the text stays UTF-8.

/// 64 KiB: the most output one message carries, and the tail of a run's output that is kept.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// `s` cut to at most `max` bytes, keeping its beginning.
pub(crate) fn head(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

/// `s` cut to at most `max` bytes, keeping its end.
pub(crate) fn tail(s: &str, max: usize) -> &str {
    &s[s.ceil_char_boundary(s.len().saturating_sub(max))..]
}

/// The last [`MAX_OUTPUT_BYTES`] of everything pushed.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    text: String,
}

impl Tail {
    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(tail(s, MAX_OUTPUT_BYTES));
        let excess = self.text.len().saturating_sub(MAX_OUTPUT_BYTES);
        if excess > 0 {
            let cut = self.text.ceil_char_boundary(excess);
            self.text.drain(..cut);
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_on_char_boundaries() {
        assert_eq!(head("héllo", 2), "h");
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::default();
        t.push(&"a".repeat(MAX_OUTPUT_BYTES));
        t.push("end");
        assert_eq!(t.text().len(), MAX_OUTPUT_BYTES);
        assert!(t.text().ends_with("aend"));
        t.push(&"b".repeat(3 * MAX_OUTPUT_BYTES));
        assert_eq!(t.text(), "b".repeat(MAX_OUTPUT_BYTES));
    }
}
