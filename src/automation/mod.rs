//! The automations pauseplay pauses: their kinds, how each kind is discovered in an org, and
//! the classification of every component as *will pause* or *skip* with a reason.

mod kind;

pub use kind::{Kind, UnknownKind};
