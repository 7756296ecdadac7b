//! Integers in request bodies as the OpenAPI document's `integer` (JSON Schema's) counts them,
//! for `#[serde(deserialize_with)]` on the fields of bodies that come in.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// An integer field as JSON Schema's `integer` counts one: `2`, and also `2.0` or `2e0`, the same
/// number written with a fraction or an exponent. A float with a fraction, or past 2^53 (where a
/// float is no longer exact), is refused.
struct Integer(i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Integer, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Integer;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Integer, E> {
                Ok(Integer(value))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Integer, E> {
                i64::try_from(value).map(Integer).map_err(|_| {
                    E::invalid_value(
                        serde::de::Unexpected::Unsigned(value),
                        &"an integer within i64",
                    )
                })
            }

            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Integer, E> {
                const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
                if value.fract() == 0.0 && value.abs() <= EXACT {
                    // Exact: an integral float within 2^53 is that integer.
                    Ok(Integer(value as i64))
                } else {
                    Err(E::invalid_type(serde::de::Unexpected::Float(value), &self))
                }
            }
        }
        d.deserialize_any(Visit)
    }
}

/// `deserialize_with` for an integer field (see [`Integer`]).
pub(crate) fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Integer::deserialize(d).map(|Integer(value)| value)
}

/// `deserialize_with` for an optional integer field, with `#[serde(default)]` (see [`Integer`]).
pub(crate) fn optional_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<Integer>::deserialize(d).map(|value| value.map(|Integer(value)| value))
}

/// `deserialize_with` for a map of names to integers (see [`Integer`]).
pub(crate) fn integer_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, i64>, D::Error> {
    BTreeMap::<String, Integer>::deserialize(d).map(|map| {
        map.into_iter()
            .map(|(name, Integer(value))| (name, value))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(deserialize_with = "integer")]
        n: i64,
        #[serde(default, deserialize_with = "optional_integer")]
        m: Option<i64>,
    }

    fn read(json: &str) -> Result<(i64, Option<i64>), String> {
        serde_json::from_str::<Body>(json)
            .map(|body| (body.n, body.m))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn an_integer_may_be_written_with_a_fraction_or_an_exponent_but_must_be_one() {
        assert_eq!(read(r#"{"n": 2}"#), Ok((2, None)));
        assert_eq!(read(r#"{"n": 2.0, "m": null}"#), Ok((2, None)));
        assert_eq!(read(r#"{"n": -3e2, "m": 4.0}"#), Ok((-300, Some(4))));
        assert_eq!(read(r#"{"n": 9007199254740992.0}"#), Ok((1 << 53, None)));
        assert_eq!(read(r#"{"n": 9223372036854775807}"#), Ok((i64::MAX, None)));
        for refused in [
            r#"{"n": 2.5}"#,
            r#"{"n": 1e30}"#,
            r#"{"n": 99999999999999999999}"#,
            r#"{"n": 9223372036854775808}"#,
            r#"{"n": "2"}"#,
            r#"{"n": null}"#,
            r#"{"n": 1, "m": 0.5}"#,
        ] {
            assert!(read(refused).is_err(), "{refused}");
        }
    }
}
