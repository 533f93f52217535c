//! auditpack: turns an AWS account's CloudTrail log protection into an evidence pack an assessor can trust.
//!
//! Data flows one way: `config` -> `collect` -> `evidence` -> `assess` -> `report` -> `sign` -> `archive`.
//! Only `collect` (and later `archive`) talk to AWS; everything after collection works offline from a pack.

pub mod archive;
pub mod assess;
pub mod cli;
pub mod collect;
pub mod config;
pub mod evidence;
pub mod report;
pub mod sign;
