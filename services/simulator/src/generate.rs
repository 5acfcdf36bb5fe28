//! `source-simulator generate --households N --seed S --out DIR`: a deterministic data set for
//! load runs and demos.
//!
//! - `DIR/fixtures.json`: what every data holder knows of every person (`id_number → source →
//!   figures`), the format [`crate::SimulatorSettings::fixtures_file`] reads; the figures are
//!   [`crate::generated`]'s for the same seed, so a simulator given the file answers exactly as
//!   one given only the seed would.
//! - `DIR/applications.jsonl`: one `POST /v1/applications` body per line: region 410102
//!   (Zhongyuan district, Zhengzhou), 1 to 5 members with valid GB 11643-1999 ID numbers issued
//!   there, declared incomes and circumstances.
//!
//! The same seed and size give the same files, byte for byte.

use crate::{generated, Figures, SOURCES};
use anyhow::Context as _;
use policy::determination::MemberFlags;
use policy::ResidentId;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The county every generated household lives in.
pub const REGION: &str = "410102";

/// The generated data set.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSet {
    /// `id_number → source → figures`, ordered so the file is the same every time.
    pub fixtures: BTreeMap<String, BTreeMap<String, Figures>>,
    /// `POST /v1/applications` bodies, one per household.
    pub applications: Vec<Value>,
}

impl DataSet {
    pub fn fixtures_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.fixtures).expect("fixtures serialise");
        s.push('\n');
        s
    }

    pub fn applications_jsonl(&self) -> String {
        self.applications
            .iter()
            .map(|a| serde_json::to_string(a).expect("an application serialises") + "\n")
            .collect()
    }

    /// Writes `fixtures.json` and `applications.jsonl` into `dir`, creating it if needed.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{} could not be created", dir.display()))?;
        for (name, text) in [
            ("fixtures.json", self.fixtures_json()),
            ("applications.jsonl", self.applications_jsonl()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("{} could not be written", path.display()))?;
        }
        Ok(())
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True `permille` times in a thousand.
    fn chance(&mut self, permille: u64) -> bool {
        self.next() % 1000 < permille
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const SURNAMES: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun",
];
const GIVEN_MALE: &[&str] = &[
    "Wei", "Qiang", "Lei", "Jun", "Yong", "Jie", "Tao", "Ming", "Hao", "Chao",
];
const GIVEN_FEMALE: &[&str] = &[
    "Fang", "Na", "Min", "Jing", "Li", "Yan", "Juan", "Xia", "Ying", "Hui",
];

/// The year ages are counted in; fixed, so the data set does not change with the calendar.
const AS_OF_YEAR: i64 = 2026;

struct Person {
    birth_year: i64,
    male: bool,
}

/// `households` households from `seed`.
pub fn generate(households: usize, seed: u64) -> DataSet {
    // Its own stream of numbers: the figures come from `generated` with the seed as given.
    let mut rng = Rng(seed ^ 0x7265_6c69_6566_2d67);
    let mut issued = BTreeSet::new();
    let mut fixtures = BTreeMap::new();
    let mut applications = Vec::with_capacity(households);
    for i in 0..households {
        let size = rng.between(1, 5) as usize;
        let surname = rng.pick(SURNAMES);
        let head = Person {
            birth_year: rng.between(1945, 1995),
            male: rng.chance(600),
        };
        let mut people = vec![("head", head)];
        for k in 1..size {
            let head_year = people[0].1.birth_year;
            let (relation, person) = if k == 1 && rng.chance(700) {
                let spouse = Person {
                    birth_year: (head_year + rng.between(-5, 5)).min(2000),
                    male: !people[0].1.male,
                };
                ("spouse", spouse)
            } else {
                let child_year = head_year + rng.between(20, 38);
                if child_year <= 2023 {
                    let child = Person {
                        birth_year: child_year,
                        male: rng.chance(500),
                    };
                    ("child", child)
                } else {
                    let parent = Person {
                        birth_year: (head_year - rng.between(20, 35)).max(1925),
                        male: rng.chance(500),
                    };
                    ("parent", parent)
                }
            };
            people.push((relation, person));
        }
        let members: Vec<Value> = people
            .iter()
            .map(|(relation, p)| {
                let id = issue_id(&mut rng, p, &mut issued);
                let per_source = SOURCES
                    .iter()
                    .map(|s| ((*s).to_owned(), generated(seed, s, &id)))
                    .collect::<BTreeMap<_, _>>();
                fixtures.insert(id.clone(), per_source);
                let given = rng.pick(if p.male { GIVEN_MALE } else { GIVEN_FEMALE });
                json!({
                    "name": format!("{surname} {given}"),
                    "id_number": id,
                    "relation": relation,
                    "declared_monthly_income_fen": declared_income(&mut rng, relation, p),
                    "flags": flags(&mut rng, p),
                })
            })
            .collect();
        applications.push(json!({
            "region_code": REGION,
            "urban": rng.chance(800),
            "address": format!("Generated household {}, Zhongyuan district", i + 1),
            "members": members,
            "commitment": {"version": "410100-2024-1", "signed_on": "2026-11-10", "signer": 0},
        }));
    }
    DataSet {
        fixtures,
        applications,
    }
}

/// A valid ID number issued in [`REGION`] for `p`, never one issued before in this data set.
fn issue_id(rng: &mut Rng, p: &Person, issued: &mut BTreeSet<String>) -> String {
    loop {
        let month = rng.between(1, 12);
        let day = rng.between(1, 28);
        // The last digit of the sequence number is odd for men, even for women.
        let sequence = rng.between(0, 499) * 2 + i64::from(p.male);
        let body = format!("{REGION}{:04}{month:02}{day:02}{sequence:03}", p.birth_year);
        let id = ResidentId::from_body(&body)
            .expect("a generated body has a real birth date")
            .as_str()
            .to_owned();
        if issued.insert(id.clone()) {
            return id;
        }
    }
}

/// Whole yuan, in fen: most members declare nothing, some a wage, some a small pension.
fn declared_income(rng: &mut Rng, relation: &str, p: &Person) -> i64 {
    let age = AS_OF_YEAR - p.birth_year;
    let yuan = match relation {
        "child" if age < 18 => 0,
        _ if age >= 60 && rng.chance(600) => rng.between(100, 300),
        _ if age >= 60 => 0,
        "head" if rng.chance(700) => rng.between(200, 1500),
        _ if rng.chance(300) => rng.between(100, 800),
        _ => 0,
    };
    yuan * 100
}

/// A member's circumstances, with only those that are not the default written out.
fn flags(rng: &mut Rng, p: &Person) -> Value {
    let age = AS_OF_YEAR - p.birth_year;
    let f = MemberFlags {
        in_school: (6..18).contains(&age) && rng.chance(900),
        college_student: (18..23).contains(&age) && rng.chance(400),
        serious_illness: age >= 18 && rng.chance(100),
        severe_disability: rng.chance(40),
        registered_unemployed: (18..60).contains(&age) && rng.chance(100),
        ..MemberFlags::default()
    };
    let defaults = serde_json::to_value(MemberFlags::default()).expect("flags serialise");
    let Value::Object(all) = serde_json::to_value(f).expect("flags serialise") else {
        unreachable!("flags are an object")
    };
    let set: Map<String, Value> = all
        .into_iter()
        .filter(|(k, v)| defaults.get(k) != Some(v))
        .collect();
    Value::Object(set)
}

/// `generate --households N --seed S --out DIR` (the arguments after `generate`).
pub fn run_cli(args: &[String]) -> anyhow::Result<()> {
    const USAGE: &str = "usage: source-simulator generate --households N [--seed S] --out DIR";
    let mut households = None;
    let mut seed: u64 = crate::DEFAULT_SEED;
    let mut out = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--households" => {
                households = Some(
                    value
                        .parse::<usize>()
                        .with_context(|| format!("--households must be a number; {USAGE}"))?,
                )
            }
            "--seed" => {
                seed = value
                    .parse()
                    .with_context(|| format!("--seed must be a number; {USAGE}"))?
            }
            "--out" => out = Some(value.clone()),
            other => anyhow::bail!("unknown option {other}; {USAGE}"),
        }
    }
    let households = households.with_context(|| format!("--households is required; {USAGE}"))?;
    let out = out.with_context(|| format!("--out is required; {USAGE}"))?;
    let data = generate(households, seed);
    data.write(Path::new(&out))?;
    println!(
        "{households} households, {} people, seed {seed}: {out}/fixtures.json, {out}/applications.jsonl",
        data.fixtures.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_files_and_another_seed_other_files() {
        let a = generate(40, 7);
        let b = generate(40, 7);
        assert_eq!(a.fixtures_json(), b.fixtures_json());
        assert_eq!(a.applications_jsonl(), b.applications_jsonl());
        let c = generate(40, 8);
        assert_ne!(a.applications_jsonl(), c.applications_jsonl());
        assert_ne!(a.fixtures_json(), c.fixtures_json());

        // And so do the files on disk.
        let dir = std::env::temp_dir().join(format!("simulator-generate-{}", uuid::Uuid::new_v4()));
        a.write(&dir.join("one")).unwrap();
        b.write(&dir.join("two")).unwrap();
        for name in ["fixtures.json", "applications.jsonl"] {
            let one = std::fs::read(dir.join("one").join(name)).unwrap();
            let two = std::fs::read(dir.join("two").join(name)).unwrap();
            assert!(!one.is_empty());
            assert_eq!(one, two, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_id_is_valid_unique_and_in_the_fixtures_with_the_generated_figures() {
        let seed = 20261122;
        let data = generate(200, seed);
        assert_eq!(data.applications.len(), 200);
        let mut seen = BTreeSet::new();
        for app in &data.applications {
            assert_eq!(app["region_code"], json!(REGION));
            let members = app["members"].as_array().unwrap();
            assert!((1..=5).contains(&members.len()), "{app}");
            assert_eq!(members[0]["relation"], json!("head"));
            for m in members {
                let raw = m["id_number"].as_str().unwrap();
                let id = ResidentId::parse(raw).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(id.as_str(), raw);
                assert_eq!(id.issuing_region(), REGION);
                assert!(seen.insert(raw.to_owned()), "issued twice");
                assert!(m["declared_monthly_income_fen"].as_i64().unwrap() >= 0);
                // The flags are what intake reads.
                let _: MemberFlags = serde_json::from_value(m["flags"].clone()).unwrap();
                let per_source = &data.fixtures[raw];
                assert_eq!(per_source.len(), SOURCES.len());
                for s in SOURCES {
                    assert_eq!(per_source[s], generated(seed, s, raw));
                }
            }
        }
        assert_eq!(seen.len(), data.fixtures.len());
        // The fixtures file is what the simulator reads.
        let back: crate::Fixtures = serde_json::from_str(&data.fixtures_json()).unwrap();
        assert_eq!(back.len(), data.fixtures.len());
        // Every household size occurs.
        let sizes: BTreeSet<usize> = data
            .applications
            .iter()
            .map(|a| a["members"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, (1..=5).collect());
    }

    #[test]
    fn the_command_line_writes_both_files() {
        let dir = std::env::temp_dir().join(format!("simulator-cli-{}", uuid::Uuid::new_v4()));
        let args: Vec<String> = ["--households", "3", "--seed", "5", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([dir.to_string_lossy().into_owned()])
            .collect();
        run_cli(&args).unwrap();
        let lines = std::fs::read_to_string(dir.join("applications.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 3);
        assert_eq!(lines, generate(3, 5).applications_jsonl());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(run_cli(&["--households".into(), "3".into()]).is_err());
        assert!(run_cli(&["--bogus".into(), "1".into()]).is_err());
    }
}
