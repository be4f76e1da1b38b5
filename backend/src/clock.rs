//! Wall-clock time for everything argocd-drift stamps itself, to the second: Argo CD writes
//! whole seconds, and sub-second precision on "seen at" times would claim more than a watch
//! can know.

use jiff::{Timestamp, TimestampRound, Unit};

/// Now, truncated to the second.
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    // Rounding to whole seconds cannot overflow for any time this process runs at.
    now.round(
        TimestampRound::new()
            .smallest(Unit::Second)
            .mode(jiff::RoundMode::Trunc),
    )
    .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    #[test]
    fn has_no_fraction_of_a_second() {
        assert_eq!(super::now().subsec_nanosecond(), 0);
    }
}
