//! Active discovery (主动发现): what a valid report is.

use chrono::NaiveDate;
use contract::{DiscoveryReport, ReporterKind};
use mesh::http::FieldError;
use policy::{RegionCode, ResidentId};

/// Every problem with a report, by field.
pub fn validate(
    r: &DiscoveryReport,
    book: &policy::PolicyBook,
    today: NaiveDate,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut text = |field: &str, value: &str, max: usize| {
        let n = value.trim().chars().count();
        if n == 0 || n > max {
            errors.push(FieldError::new(
                field,
                format!("must be 1 to {max} characters"),
            ));
        }
    };
    text("reporter.name", &r.reporter.name, 100);
    text("name", &r.name, 100);
    text("description", &r.description, 2000);
    if r.reporter.kind == ReporterKind::SocialOrganisation {
        match &r.reporter.organisation {
            Some(o) => text("reporter.organisation", o, 200),
            None => errors.push(FieldError::new(
                "reporter.organisation",
                "a social organisation's report names the organisation",
            )),
        }
    }
    if let Some(id) = &r.id_number {
        if let Err(e) = ResidentId::parse(id) {
            errors.push(FieldError::new("id_number", e.to_string()));
        }
    }
    match RegionCode::parse(&r.region_code) {
        Err(e) => errors.push(FieldError::new("region_code", e.to_string())),
        Ok(region) if region.as_str().len() < 9 => errors.push(FieldError::new(
            "region_code",
            "must name the township (9 digits) or village (12 digits) where the person lives",
        )),
        Ok(region) => {
            if book.in_force(&region, today).is_err() {
                errors.push(FieldError::new(
                    "region_code",
                    "no parameter set covers this region today",
                ));
            }
        }
    }
    if r.reported_on > today {
        errors.push(FieldError::new("reported_on", "is in the future"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{Hardship, Reporter};
    use uuid::Uuid;

    #[test]
    fn a_report_names_its_reporter_and_a_township_and_is_not_from_the_future() {
        let book = policy::PolicyBook::builtin();
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        let good = DiscoveryReport {
            report_id: Uuid::nil(),
            reporter: Reporter {
                kind: ReporterKind::GridWorker,
                name: "Grid worker Li".into(),
                organisation: None,
            },
            name: "Wang".into(),
            id_number: None,
            region_code: "410102001001".into(),
            hardship: Hardship::Illness,
            description: "bedridden, no income".into(),
            reported_on: today,
        };
        assert!(validate(&good, &book, today).is_empty());
        let mut bad = good.clone();
        bad.reporter.name = " ".into();
        bad.reporter.kind = ReporterKind::SocialOrganisation;
        bad.region_code = "410102".into();
        bad.id_number = Some("123".into());
        bad.reported_on = "2026-11-23".parse().unwrap();
        let fields: Vec<String> = validate(&bad, &book, today)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            [
                "reporter.name",
                "reporter.organisation",
                "id_number",
                "region_code",
                "reported_on"
            ]
        );
    }

    #[test]
    fn names_on_the_wire_are_the_names_in_code_and_docs() {
        for f in contract::FeedSource::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
            assert_eq!(contract::FeedSource::parse(f.as_str()), Some(f));
        }
        for k in [
            ReporterKind::GridWorker,
            ReporterKind::Hotline12345,
            ReporterKind::VillageAssistant,
            ReporterKind::SocialOrganisation,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for h in [
            Hardship::Illness,
            Hardship::Disability,
            Hardship::Education,
            Hardship::Unemployment,
            Hardship::Disaster,
            Hardship::Housing,
            Hardship::Livelihood,
        ] {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str());
        }
    }
}
