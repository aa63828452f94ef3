//! Everything one simulated org remembers, behind one mutex.
//!
//! The state is a plain struct in a `std::sync::Mutex`. Every handler locks it, does its
//! synchronous work and unlocks before any `.await` (latency sleeps happen outside the
//! lock): a std mutex held across an await would block the runtime's worker thread and
//! could deadlock against another task waiting for the same lock, and nothing the org does
//! needs to wait while holding it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::time::Instant;

use super::catalog::Api;
use super::deploy::Deploys;
use super::faults::{FaultEngine, Faults};
use super::freeze::Freezer;
use super::ids::{IdAllocator, prefix};
use super::model::Org;
use super::scenario::{AuthMode, Scenario};

/// Counter names, one per endpoint class.
pub mod counter {
    pub const TOKEN: &str = "token";
    pub const TOKEN_REJECTED: &str = "token_rejected";
    pub const VERSIONS: &str = "versions";
    pub const RESOURCES: &str = "resources";
    pub const LIMITS: &str = "limits";
    pub const QUERY: &str = "query";
    pub const TOOLING_QUERY: &str = "tooling_query";
    pub const QUERY_MORE: &str = "query_more";
    pub const SOBJECT_GET: &str = "sobject_get";
    pub const SOBJECT_PATCH: &str = "sobject_patch";
    pub const COMPOSITE: &str = "composite";
    pub const COMPOSITE_SUBREQUEST: &str = "composite_subrequest";
    pub const NOT_FOUND: &str = "not_found";
    /// Requests refused with 414 for a URI over 16,384 bytes (not charged: refused before
    /// they reach the API).
    pub const URI_TOO_LONG: &str = "uri_too_long";
    pub const REJECTED_AUTH: &str = "rejected_auth";
    pub const REJECTED_LIMIT: &str = "rejected_limit";
    pub const FAULTS_INJECTED: &str = "faults_injected";
    pub const DROPPED: &str = "dropped";
    pub const ADMIN_CONFLICTS: &str = "admin_conflicts";
    /// API requests answered late (`faults.slow_rate`); also counted in `faults_injected`.
    pub const SLOW: &str = "slow";
    /// API requests answered with an injected transient error (`faults.transient_error_rate`);
    /// also counted in `faults_injected`.
    pub const TRANSIENT: &str = "transient";
    /// The writes among `slow`.
    pub const SLOW_WRITES: &str = "slow_writes";
    pub const DEPLOY_REQUEST: &str = "deploy_request";
    pub const DEPLOY_POLL: &str = "deploy_poll";
    /// Every API request that counted toward the daily limit.
    pub const API_REQUESTS: &str = "api_requests";
}

/// How many query cursors stay open; older ones answer `INVALID_QUERY_LOCATOR`. [INFERRED]
/// Salesforce also expires cursors; the sim bounds them by count so memory stays bounded.
const MAX_CURSORS: usize = 64;

#[derive(Debug)]
struct TokenInfo {
    issued: Instant,
    uses: u64,
}

/// A query result being paged through `nextRecordsUrl`.
#[derive(Debug, Clone)]
pub struct Cursor {
    pub api: Api,
    pub object: &'static str,
    pub records: Vec<Value>,
}

#[derive(Debug)]
pub struct SimState {
    pub org: Org,
    pub faults: FaultEngine,
    pub client_id: String,
    pub client_secret: String,
    pub auth: AuthMode,
    pub page_size: usize,
    pub api_used: u64,
    pub api_max: u64,
    pub counters: BTreeMap<String, u64>,
    /// Set while a write (PATCH, or a composite with a PATCH) is being applied, including its
    /// latency; another write arriving meanwhile is an admin conflict.
    pub write_in_progress: bool,
    /// Set while someone else's admin operation holds the org (an admin saving or deploying in
    /// Setup, `AdminAction::SetAdminOperation`): every API write meanwhile is refused with
    /// "admin operation already in progress".
    pub admin_operation: bool,
    /// Metadata API deploys and the simulated test behaviour.
    pub deploys: Deploys,
    /// The org's `instance_url` (set by the server once it is bound; used in deploy URLs).
    pub instance_url: String,
    /// Crash points: the request log and the freeze a test armed.
    pub freezer: Freezer,
    tokens: HashMap<String, TokenInfo>,
    token_rng: StdRng,
    cursors: VecDeque<(String, Cursor)>,
    cursor_ids: IdAllocator,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    Invalid,
}

impl SimState {
    pub fn new(scenario: &Scenario) -> SimState {
        let org = Org::from_scenario(scenario);
        SimState {
            faults: FaultEngine::new(scenario.faults.clone()),
            client_id: scenario.org.client_id.clone(),
            client_secret: scenario.org.client_secret.clone(),
            auth: scenario.org.auth,
            page_size: scenario.query.page_size.clamp(1, 2000),
            api_used: scenario.limits.used,
            api_max: scenario.limits.daily_api_requests,
            counters: BTreeMap::new(),
            write_in_progress: false,
            admin_operation: false,
            deploys: Deploys::new(scenario.deploy.clone()),
            instance_url: String::new(),
            freezer: Freezer::default(),
            tokens: HashMap::new(),
            // Tokens come from their own RNG so that minting one does not shift the fault
            // sequence.
            token_rng: StdRng::seed_from_u64(scenario.faults.seed ^ 0x5EED_70CE),
            cursors: VecDeque::new(),
            cursor_ids: IdAllocator::default(),
            org,
        }
    }

    pub fn count(&mut self, name: &str) {
        *self.counters.entry(name.to_owned()).or_insert(0) += 1;
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults.set(faults);
    }

    /// Mints an access token: `<15-char org id>!<opaque>`.
    pub fn mint_token(&mut self, now: Instant) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
        let opaque: String = (0..96)
            .map(|_| char::from(ALPHABET[self.token_rng.random_range(0..ALPHABET.len())]))
            .collect();
        let token = format!("{}!AQ{opaque}", super::ids::short(&self.org.info.id));
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                issued: now,
                uses: 0,
            },
        );
        token
    }

    /// A base64 signature for the token response.
    pub fn signature(&mut self) -> String {
        use base64::Engine;
        let bytes: [u8; 32] = self.token_rng.random();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Checks a bearer token and counts one use of it. Expired tokens are forgotten.
    pub fn use_token(&mut self, token: &str, now: Instant) -> TokenCheck {
        let faults = self.faults.faults();
        let ttl = faults.token_ttl;
        let max_uses = faults.token_requests;
        let Some(info) = self.tokens.get_mut(token) else {
            return TokenCheck::Invalid;
        };
        let too_old = ttl.is_some_and(|ttl| now.duration_since(info.issued) >= ttl);
        let too_used = max_uses > 0 && info.uses >= max_uses;
        if too_old || too_used {
            self.tokens.remove(token);
            return TokenCheck::Invalid;
        }
        info.uses += 1;
        TokenCheck::Valid
    }

    pub fn revoke_tokens(&mut self) {
        self.tokens.clear();
    }

    /// Stores a cursor and returns its locator id (`01g...`).
    pub fn open_cursor(&mut self, cursor: Cursor) -> String {
        let id = self.cursor_ids.next(prefix::QUERY_LOCATOR);
        if self.cursors.len() >= MAX_CURSORS {
            self.cursors.pop_front();
        }
        self.cursors.push_back((id.clone(), cursor));
        id
    }

    pub fn cursor(&self, id: &str) -> Option<&Cursor> {
        self.cursors
            .iter()
            .find(|(cursor_id, _)| cursor_id == id)
            .map(|(_, cursor)| cursor)
    }

    /// The org's true state plus the deploys it received, as stable JSON.
    pub fn snapshot(&self) -> Value {
        let mut snapshot = self.org.snapshot();
        if let Some(map) = snapshot.as_object_mut() {
            map.insert("deploys".to_owned(), self.deploys.snapshot());
        }
        snapshot
    }

    /// The `Sforce-Limit-Info` header value.
    pub fn limit_info(&self) -> String {
        format!("api-usage={}/{}", self.api_used, self.api_max)
    }
}

/// The shared, lockable state.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<SimState>,
}

impl Shared {
    pub fn new(state: SimState) -> Self {
        Shared {
            state: Mutex::new(state),
        }
    }

    /// Locks the state. A poisoned lock (a panic while it was held) is recovered: every
    /// mutation of the state is a few field assignments, so the data is still consistent
    /// enough to keep answering, and a test that panicked has already failed.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
