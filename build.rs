//! Makes cargo rebuild the crate when a migration is added or changed.
//!
//! `sqlx::migrate!()` embeds `migrations/` at compile time, but a proc-macro is not re-run when
//! only a file it reads changes. Without this, a new `.sql` file would silently be missing from
//! the binary until some Rust file changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
