//! Departmental feeds (数据比对): what a valid feed record is.

use chrono::NaiveDate;
use contract::{FeedRecord, FeedSource};
use policy::{PolicyBook, ResidentId};

/// Checks what serde cannot; the reason names the field.
pub fn validate(
    source: FeedSource,
    r: &FeedRecord,
    book: &PolicyBook,
    today: NaiveDate,
) -> Result<FeedRecord, String> {
    let id = r.record_id.trim();
    if id.is_empty() || id.len() > 64 || id.chars().any(char::is_control) {
        return Err("record_id: must be 1 to 64 printable characters".into());
    }
    let person = ResidentId::parse(&r.id_number).map_err(|e| format!("id_number: {e}"))?;
    let region = r.region_code.clone();
    if region.as_str().len() < 9 {
        return Err(
            "region_code: must name the township (9 digits) or village (12 digits) where the person lives"
                .into(),
        );
    }
    if book.in_force(&region, today).is_err() {
        return Err("region_code: no parameter set covers this region today".into());
    }
    if r.occurred_on > today {
        return Err("occurred_on: is in the future".into());
    }
    if r.occurred_on < person.birth_date() {
        return Err("occurred_on: is before the person's birth date".into());
    }
    let only = |field: &str, allowed: FeedSource| -> Result<(), String> {
        if source != allowed {
            Err(format!("{field}: not a fact of the {source} feed"))
        } else {
            Ok(())
        }
    };
    if let Some(illness) = &r.illness {
        only("illness", FeedSource::SeriousIllness)?;
        if illness.trim().is_empty() || illness.len() > 200 {
            return Err("illness: must be 1 to 200 characters".into());
        }
    }
    if r.house_damage.is_some() {
        only("house_damage", FeedSource::DisasterVictim)?;
    }
    if r.displaced {
        only("displaced", FeedSource::DisasterVictim)?;
    }
    if let Some(grade) = r.disability_grade {
        only("disability_grade", FeedSource::SevereDisability)?;
        if !(1..=2).contains(&grade) {
            return Err(format!(
                "disability_grade: {grade} is not a severe disability (grades 1 and 2 are)"
            ));
        }
    }
    Ok(FeedRecord {
        record_id: id.to_owned(),
        id_number: person.as_str().to_owned(),
        illness: r.illness.as_ref().map(|s| s.trim().to_owned()),
        ..r.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_validated_with_reasons_that_name_the_field() {
        let book = PolicyBook::builtin();
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        let id = ResidentId::from_body("41010219800101001").unwrap();
        let good = FeedRecord {
            record_id: "d-1".into(),
            id_number: id.as_str().to_owned(),
            region_code: policy::RegionCode::parse("410102001001").unwrap(),
            occurred_on: "2026-10-01".parse().unwrap(),
            illness: None,
            house_damage: None,
            displaced: false,
            disability_grade: None,
        };
        assert!(validate(FeedSource::Death, &good, &book, today).is_ok());
        let cases: Vec<(FeedSource, FeedRecord, &str)> = vec![
            (
                FeedSource::Death,
                FeedRecord {
                    id_number: "410102198001010010".into(),
                    ..good.clone()
                },
                "id_number",
            ),
            (
                FeedSource::Death,
                FeedRecord {
                    region_code: policy::RegionCode::parse("410102").unwrap(),
                    ..good.clone()
                },
                "region_code: must name the township",
            ),
            (
                FeedSource::Death,
                FeedRecord {
                    region_code: policy::RegionCode::parse("990102001").unwrap(),
                    ..good.clone()
                },
                "no parameter set",
            ),
            (
                FeedSource::Death,
                FeedRecord {
                    occurred_on: "2026-12-01".parse().unwrap(),
                    ..good.clone()
                },
                "future",
            ),
            (
                FeedSource::Death,
                FeedRecord {
                    record_id: " ".into(),
                    ..good.clone()
                },
                "record_id",
            ),
            (
                FeedSource::Death,
                FeedRecord {
                    illness: Some("flu".into()),
                    ..good.clone()
                },
                "illness: not a fact of the death feed",
            ),
            (
                FeedSource::SevereDisability,
                FeedRecord {
                    disability_grade: Some(3),
                    ..good.clone()
                },
                "not a severe disability",
            ),
        ];
        for (source, r, reason) in cases {
            let err = validate(source, &r, &book, today).unwrap_err();
            assert!(err.contains(reason), "{err} should say {reason}");
        }
    }
}
