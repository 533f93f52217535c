//! auditpack: turns an AWS account's CloudTrail log protection into an evidence pack an assessor can trust.
//!
//! Data flows one way: `config` -> `collect` -> `evidence` -> `assess` -> `report` -> `sign` -> `archive`.
//! Only `aws` builds AWS clients (for `collect`, `archive` and KMS signing); everything after
//! collection works offline from a pack, except fetching a KMS public key the verifier names.

pub mod archive;
pub mod assess;
pub mod aws;
pub mod cli;
pub mod collect;
pub mod compare;
pub mod config;
pub mod evidence;
pub mod report;
pub mod sign;
pub mod tsa;
