//! Duration literals such as `"90s"`, `"10m"` or `"1h30m"`, checked at compile time.
//!
//! Parsing is `humantime`'s (kept, dependency-free, and the format `clap` users and Rust services
//! already write): `ms`, `s`, `m`, `h`, `d`, `w` and their long names (`5 minutes`), parts summed,
//! spaces allowed. memokit used to parse these by hand; the crate accepts everything that did, with
//! the same meaning, so only the wording of errors changed. A parse happens once per attribute at
//! compile time, so speed is not a concern. What humantime does not check, memokit adds: a zero
//! duration is rejected (an entry that never lives is a mistake, not a setting).

use std::time::Duration;

use humantime::DurationError;

const UNITS: &str = "ms, s, m, h, d or w";

/// Parses a duration literal; the error says what is wrong in words.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let total = humantime::parse_duration(text).map_err(|e| match e {
        DurationError::Empty => {
            format!("empty duration: write a number and a unit ({UNITS}), like \"90s\"")
        }
        DurationError::UnknownUnit { unit, value, .. } if unit.is_empty() => format!(
            "invalid duration \"{text}\": `{value}` has no unit; write \"{value}s\" (units: {UNITS})"
        ),
        DurationError::UnknownUnit { unit, .. } => {
            format!("invalid duration \"{text}\": unknown unit `{unit}`; use {UNITS}")
        }
        DurationError::NumberOverflow => format!("invalid duration \"{text}\": too long"),
        DurationError::NumberExpected(at) | DurationError::InvalidCharacter(at) => format!(
            "invalid duration \"{text}\": expected a number at \"{}\"; write it like \"90s\" or \"1h30m\"",
            &text[at.min(text.len())..]
        ),
    })?;
    if total.is_zero() {
        return Err(format!(
            "duration \"{text}\" is zero; a cache entry must live longer than that"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn accepts_units_and_compounds() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse("5 minutes"), Ok(Duration::from_secs(300)));
    }

    #[test]
    fn rejects_with_reasons() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("30").unwrap_err().contains("has no unit"));
        assert!(
            parse("5 fortnights")
                .unwrap_err()
                .contains("unknown unit `fortnights`")
        );
        assert!(parse("m5").unwrap_err().contains("expected a number"));
        assert!(parse("0s").unwrap_err().contains("zero"));
        assert!(
            parse("99999999999999999999s")
                .unwrap_err()
                .contains("too long")
        );
    }
}
