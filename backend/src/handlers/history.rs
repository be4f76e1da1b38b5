//! `GET /api/v1/history?limit=&cursor=`: the app's drift episodes, newest first, a page at a
//! time, with totals — from the shared drift history (`crate::history`), never a call to the API
//! server.

use crate::history::History;
use crate::http::error::ApiError;
use crate::http::gate::AppContext;
use crate::http::query::{FromQuery, Query};
use drift_core::history::view::{Cursor, DEFAULT_LIMIT, HistoryView, MAX_LIMIT, Page};
use jiff::Timestamp;

/// `GET /api/v1/history?limit=&cursor=`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    pub page: Page,
}

impl FromQuery for HistoryQuery {
    const PARAMS: &'static [&'static str] = &["limit", "cursor"];

    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n) && !raw.starts_with('+'))
                .ok_or_else(|| {
                    ApiError::InvalidQuery(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
        };
        let cursor = query
            .get("cursor")
            .map(|raw| Cursor::parse(raw).map_err(|e| ApiError::InvalidQuery(e.to_string())))
            .transpose()?;
        Ok(HistoryQuery {
            page: Page { limit, cursor },
        })
    }
}

/// The history of the app the gate admitted.
pub fn get(
    ctx: &AppContext,
    query: &HistoryQuery,
    history: &History,
    now: Timestamp,
) -> HistoryView {
    history.view(&ctx.app.app.key, &query.page, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(raw: &str) -> Result<HistoryQuery, ApiError> {
        HistoryQuery::from_query(&Query::parse(Some(raw)).unwrap())
    }

    #[test]
    fn limit_defaults_and_is_bounded() {
        assert_eq!(parse("").unwrap().page.limit, DEFAULT_LIMIT);
        assert_eq!(parse("limit=1").unwrap().page.limit, 1);
        assert_eq!(parse("limit=100").unwrap().page.limit, 100);
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=ten",
            "limit=",
            "limit=+5",
            "limit=1.5",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_QUERY", "{bad}");
            assert!(err.to_string().contains("limit must be"), "{err}");
        }
    }

    #[test]
    fn a_cursor_must_be_one_the_api_gave_out() {
        let good = Cursor::after("1234").encode();
        assert_eq!(
            parse(&format!("cursor={good}")).unwrap().page.cursor,
            Some(Cursor::after("1234"))
        );
        for bad in ["cursor=", "cursor=1234", "cursor=djE6"] {
            let err = parse(bad);
            assert!(err.is_err_and(|e| e.code() == "INVALID_QUERY"), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_limit_or_cursor_parses_or_is_invalid_query(limit in "\\PC{0,12}", cursor in "\\PC{0,40}") {
            let raw = format!(
                "limit={}&cursor={}",
                percent_encoding::utf8_percent_encode(&limit, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(&cursor, percent_encoding::NON_ALPHANUMERIC),
            );
            if let Ok(q) = Query::parse(Some(&raw)) {
                match HistoryQuery::from_query(&q) {
                    Ok(h) => prop_assert!((1..=MAX_LIMIT).contains(&h.page.limit)),
                    Err(e) => prop_assert_eq!(e.code(), "INVALID_QUERY"),
                }
            }
        }
    }
}
