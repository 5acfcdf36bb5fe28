//! Pure policy rules and domain types of relief-mesh. No I/O: no database, no NATS, no HTTP.
//!
//! - [`id`]: resident ID numbers (GB 11643-1999) and their masked form for logs and disclosure.
//! - [`region`]: administrative division codes.
//! - [`money`]: integer fen, checked arithmetic; there are no floats for money anywhere in the mesh.
//! - [`bounds`]: the ranges of every amount, count and list that enters the mesh.
//! - [`month`]: calendar months, the unit benefits are paid in.
//! - [`dates`]: every date rule (deadlines, re-verification, stops, gradual exit, the monthly run).
//! - [`params`]: parameter sets per region with an effective date, loaded from TOML files.
//! - [`determination`]: one application, classified determination (tier and monthly amount).
//! - [`relief`]: the specialist departments and what each grants for a referral.
//! - [`emergency`]: whether emergency aid is paid first (先行救助), by the region's rule.
//! - [`redetermination`]: gradual exit (渐退) and re-determination when a household changes.
//!
//! Every policy number comes from a [`params::ParameterSet`]; the code holds none.

pub mod bounds;
pub mod dates;
pub mod determination;
pub mod emergency;
pub mod id;
pub mod money;
pub mod month;
pub mod params;
pub mod redetermination;
pub mod region;
pub mod relief;

pub use bounds::Bounds;
pub use determination::{determine, Determination, HouseholdFacts, MemberFacts, Tier};
pub use emergency::{act_first, ActFirst, ActFirstRefusal, AidType};
pub use id::ResidentId;
pub use money::{Fen, MoneyOverflow};
pub use month::Month;
pub use params::{CareStandards, ParameterSet, PolicyBook, PolicyError};
pub use redetermination::{gradual_exit, redetermine, ExitDecision, Redetermination};
pub use region::RegionCode;
pub use relief::Department;
