//! `policy explain`: a household's determination with every rule that fired and every
//! parameter it used, with the parameter's source. No database, no NATS: the built-in sets (or
//! `--sets FILE`) and household facts as JSON from a file or stdin.
//!
//! ```text
//! policy explain --region 410102 --month 2026-06 [--sets FILE] [FACTS.json | -]
//! ```
//!
//! Facts: `{"urban": true, "members": [{"member_id": "m1", "id_number": "…",
//! "monthly_income_fen": 0, "pension_base_fen": 0, "employment_costs_fen": 0, "assets_fen": 0,
//! "rigid_expenditure_fen": 0, "flags": {…}}]}`; `region` and `month` may be given in the
//! facts instead of the command line. The determination is made for the month's first day.

use policy::determination::{determine, HouseholdFacts, MemberFacts, MemberFlags};
use policy::{Fen, Month, PolicyBook, RegionCode, ResidentId};
use serde::Deserialize;
use std::io::Read;
use std::process::ExitCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Facts {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    month: Option<String>,
    urban: bool,
    members: Vec<Member>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Member {
    member_id: String,
    id_number: String,
    #[serde(default)]
    monthly_income_fen: i64,
    #[serde(default)]
    pension_base_fen: i64,
    #[serde(default)]
    employment_costs_fen: i64,
    #[serde(default)]
    assets_fen: i64,
    #[serde(default)]
    rigid_expenditure_fen: i64,
    #[serde(default)]
    flags: MemberFlags,
}

const USAGE: &str =
    "usage: policy explain --region CODE --month YYYY-MM [--sets FILE] [FACTS.json | -]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("policy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<String, String> {
    let mut it = args.into_iter();
    if it.next().as_deref() != Some("explain") {
        return Err(USAGE.into());
    }
    let (mut region, mut month, mut sets, mut input) = (None, None, None, None);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--region" => region = it.next(),
            "--month" => month = it.next(),
            "--sets" => sets = it.next(),
            "-h" | "--help" => return Err(USAGE.into()),
            _ if input.is_none() => input = Some(a),
            _ => return Err(USAGE.into()),
        }
    }
    let text = match input.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("stdin: {e}"))?;
            s
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
    };
    let book = match sets {
        Some(path) => PolicyBook::from_toml(
            &std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?,
        )
        .map_err(|e| e.to_string())?,
        None => PolicyBook::builtin(),
    };
    explain(&book, &text, region, month)
}

#[allow(
    clippy::too_many_lines,
    reason = "one report: the set, the determination, each member, the rules and the parameters, in reading order"
)]
fn explain(
    book: &PolicyBook,
    facts_json: &str,
    region: Option<String>,
    month: Option<String>,
) -> Result<String, String> {
    let f: Facts = serde_json::from_str(facts_json).map_err(|e| format!("facts: {e}"))?;
    let region = region
        .or(f.region)
        .ok_or("give --region (or \"region\" in the facts)")?;
    let month = month
        .or(f.month)
        .ok_or("give --month (or \"month\" in the facts)")?;
    let region = RegionCode::parse(&region).map_err(|e| format!("region {region}: {e}"))?;
    let month = Month::parse(&month).map_err(|e| format!("month {month}: {e}"))?;
    let on = month.first_day();
    let p = book.in_force(&region, on).map_err(|e| e.to_string())?;
    let members = f
        .members
        .into_iter()
        .map(|m| {
            Ok(MemberFacts {
                id: ResidentId::parse(&m.id_number)
                    .map_err(|e| format!("member {}: {e}", m.member_id))?,
                member_id: m.member_id,
                monthly_income: Fen(m.monthly_income_fen),
                pension_base: Fen(m.pension_base_fen),
                employment_costs: Fen(m.employment_costs_fen),
                assets: Fen(m.assets_fen),
                rigid_expenditure: Fen(m.rigid_expenditure_fen),
                flags: m.flags,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let h = HouseholdFacts {
        urban: f.urban,
        on,
        members,
    };
    let d = determine(&h, p).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "parameter set {} ({}), region {}, in force from {}; document {}: {} (issued {}{})",
        p.version,
        p.name,
        p.region,
        p.effective_from,
        p.document.id,
        p.document.title,
        p.document.issued,
        if p.example_values {
            "; example values"
        } else {
            ""
        }
    ));
    line(format!(
        "tier {} (classifications: {}); monthly amount {}; per-capita income {}; per-capita assets {}; standard {}",
        d.tier.as_str(),
        d.classifications
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        d.monthly_amount,
        d.per_capita_income,
        d.per_capita_assets,
        d.standard
    ));
    for m in &d.members {
        line(format!(
            "member {}: tiers [{}], individual benefit {}, payee {:?}{}{}{}",
            m.member_id,
            m.tiers
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            m.individual_benefit,
            m.payee,
            m.addon_reason
                .as_ref()
                .map(|r| format!(", add-on: {r}"))
                .unwrap_or_default(),
            if m.relief_lines.is_empty() {
                String::new()
            } else {
                format!(
                    ", referred to {}",
                    m.relief_lines
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if m.other_support.is_empty() {
                String::new()
            } else {
                format!(
                    ", other assistance {}",
                    m.other_support
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        ));
    }
    line("rules that fired:".into());
    let mut used = Vec::new();
    for f in &d.fired {
        line(format!("  [{}] {}", f.rule, f.text));
        for name in &f.parameters {
            if !used.contains(name) {
                used.push(name.clone());
            }
        }
    }
    line("parameters used:".into());
    for name in used {
        let value = p
            .value(&name)
            .and_then(|v| serde_json::to_string(v).ok())
            .unwrap_or_else(|| "?".into());
        line(format!(
            "  {name} = {value}\n      source: {}",
            p.source(&name).unwrap_or("none")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_prints_the_rules_and_each_parameter_with_its_source() {
        let head = ResidentId::from_body("41010219800101001").unwrap();
        let child = ResidentId::from_body("41010220150101002").unwrap();
        let facts = format!(
            r#"{{"urban": true, "members": [
            {{"member_id": "head", "id_number": "{}", "monthly_income_fen": 30000}},
            {{"member_id": "child", "id_number": "{}"}}]}}"#,
            head.as_str(),
            child.as_str()
        );
        let facts = facts.as_str();
        let out = explain(
            &PolicyBook::builtin(),
            facts,
            Some("410102".into()),
            Some("2026-06".into()),
        )
        .unwrap();
        assert!(out.contains("parameter set zz-2024-01"), "{out}");
        assert!(out.contains("tier dibao"), "{out}");
        assert!(out.contains("[classified_addon]"), "{out}");
        assert!(out.contains("dibao_standard.urban = 87000"), "{out}");
        assert!(
            out.contains("source: 002 三(一) 每人每月增发100元低保金"),
            "{out}"
        );
        // A region no set covers is an error, not an empty answer.
        assert!(explain(
            &PolicyBook::builtin(),
            facts,
            Some("110101".into()),
            Some("2026-06".into())
        )
        .is_err());
    }
}
