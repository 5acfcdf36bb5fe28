//! Monitoring's inputs from outside the chain: departmental feed records (数据比对) and
//! active-discovery reports (主动发现).
//!
//! Neither belongs to a household's chain when it arrives: a department or a reporter does not
//! know the household. Their envelopes carry the nil UUID as `household_id` and `chain_id`.

use crate::HouseDamage;
use chrono::NaiveDate;
use policy::RegionCode;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The departmental feeds monitoring compares with its population database, each the token of
/// `monitor.feed.{source}` and of `POST /v1/feeds/{source}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedSource {
    /// Civil registry / funeral records (死亡、火化).
    Death,
    /// Human resources: registered unemployment.
    Unemployment,
    /// Health: serious illness diagnosed.
    SeriousIllness,
    /// Disabled persons' federation: severe disability (grade 1 or 2) certified.
    SevereDisability,
    /// Education: students in hardship.
    StudentHardship,
    /// Agriculture: return-to-poverty monitoring objects.
    ReturnToPoverty,
    /// Emergency management: disaster victims.
    DisasterVictim,
}

impl FeedSource {
    pub const ALL: [FeedSource; 7] = [
        FeedSource::Death,
        FeedSource::Unemployment,
        FeedSource::SeriousIllness,
        FeedSource::SevereDisability,
        FeedSource::StudentHardship,
        FeedSource::ReturnToPoverty,
        FeedSource::DisasterVictim,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedSource::Death => "death",
            FeedSource::Unemployment => "unemployment",
            FeedSource::SeriousIllness => "serious_illness",
            FeedSource::SevereDisability => "severe_disability",
            FeedSource::StudentHardship => "student_hardship",
            FeedSource::ReturnToPoverty => "return_to_poverty",
            FeedSource::DisasterVictim => "disaster_victim",
        }
    }

    pub fn parse(s: &str) -> Option<FeedSource> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// A record of this feed says the person is in hardship: someone not in the database is a
    /// case for active discovery. A death is not.
    pub fn suggests_hardship(self) -> bool {
        !matches!(self, FeedSource::Death)
    }
}

impl fmt::Display for FeedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `monitor.feed.{source}`: one record of a departmental feed, one record per message. The same
/// record also arrives in bulk as a CSV row of `POST /v1/feeds/{source}` (same column names);
/// whichever way it comes first, a record (source + `record_id`) acts once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedRecord {
    /// The department's own id of the record, unique within the source.
    pub record_id: String,
    /// The person's 18-character resident ID number (GB 11643-1999).
    pub id_number: String,
    /// Where the person lives: a township (9 digits) or village (12 digits) code, so that the
    /// township that must look is known.
    pub region_code: RegionCode,
    /// When it happened: the date of death, of diagnosis, of registration, of the disaster, …
    pub occurred_on: NaiveDate,
    /// `serious_illness`: the diagnosis group as the health system names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub illness: Option<String>,
    /// `disaster_victim`: the state of the home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_damage: Option<HouseDamage>,
    /// `disaster_victim`: the household had to leave its home.
    #[serde(default)]
    pub displaced: bool,
    /// `severe_disability`: the certified grade (1 or 2 are severe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disability_grade: Option<u8>,
}

/// Who reports a case for active discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReporterKind {
    /// A community grid worker (网格员).
    GridWorker,
    /// The 12345 government service hotline.
    #[serde(rename = "hotline_12345")]
    Hotline12345,
    /// A village assistant (村级协理员).
    VillageAssistant,
    /// A social organisation (社会组织).
    SocialOrganisation,
}

impl ReporterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReporterKind::GridWorker => "grid_worker",
            ReporterKind::Hotline12345 => "hotline_12345",
            ReporterKind::VillageAssistant => "village_assistant",
            ReporterKind::SocialOrganisation => "social_organisation",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reporter {
    pub kind: ReporterKind,
    /// The person who reports (a grid worker, a hotline operator, …).
    pub name: String,
    /// Their organisation, required for a social organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

/// The hardship a report names; it decides which department a case may be pushed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hardship {
    Illness,
    Disability,
    Education,
    Unemployment,
    Disaster,
    Housing,
    Livelihood,
}

impl Hardship {
    pub fn as_str(self) -> &'static str {
        match self {
            Hardship::Illness => "illness",
            Hardship::Disability => "disability",
            Hardship::Education => "education",
            Hardship::Unemployment => "unemployment",
            Hardship::Disaster => "disaster",
            Hardship::Housing => "housing",
            Hardship::Livelihood => "livelihood",
        }
    }
}

/// `monitor.discovery.reported` and the body of `POST /v1/discoveries`: a person in hardship
/// reported by a grid worker, the 12345 hotline, a village assistant or a social organisation.
/// A report id is reported once: the same id again opens no second case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryReport {
    pub report_id: Uuid,
    pub reporter: Reporter,
    /// The person's name as the reporter gave it.
    pub name: String,
    /// The person's resident ID number, when the reporter knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// Where the person lives: a township (9 digits) or village (12 digits) code.
    /// Kept as written, not as a `RegionCode`: the same shape is the body of
    /// `POST /v1/discoveries`, whose every field is checked and answered with a 422 naming it.
    pub region_code: String,
    pub hardship: Hardship,
    /// What the reporter saw, in words (at most 2,000 characters).
    pub description: String,
    pub reported_on: NaiveDate,
}
