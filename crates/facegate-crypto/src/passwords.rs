//! Password hashing with Argon2id, stored as PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use facegate_core::{Failure, Result};

/// How much work a password hash costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordCost {
    /// The argon2 crate's defaults, which follow OWASP: m = 19456 KiB, t = 2, p = 1.
    #[default]
    Default,
    /// The cheapest parameters Argon2 allows (m = 8 KiB, t = 1, p = 1). For tests only:
    /// such hashes are easy to brute-force.
    Fast,
}

impl PasswordCost {
    fn params(self) -> Params {
        match self {
            PasswordCost::Default => Params::DEFAULT,
            PasswordCost::Fast => Params::new(
                Params::MIN_M_COST.max(8 * Params::MIN_P_COST),
                Params::MIN_T_COST,
                Params::MIN_P_COST,
                None,
            )
            .expect("the minimum Argon2 parameters are valid"),
        }
    }
}

/// Hashes and checks passwords.
pub(crate) struct Passwords {
    cost: PasswordCost,
    argon2: Argon2<'static>,
    /// A hash of a random password with the same parameters, checked when there is no
    /// real hash so that an unknown user costs as much time as a wrong password. Made at
    /// construction, not on first use, so that the first unknown user is no slower.
    dummy_hash: String,
}

impl Passwords {
    pub(crate) fn new(cost: PasswordCost) -> Self {
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params());
        let dummy_hash = hash_with(&argon2, &crate::secrets::new_secret(""))
            .expect("hashing the dummy password with valid parameters succeeds");
        Self {
            cost,
            argon2,
            dummy_hash,
        }
    }

    pub(crate) fn cost(&self) -> PasswordCost {
        self.cost
    }

    pub(crate) fn hash(&self, password: &str) -> Result<String> {
        hash_with(&self.argon2, password)
    }

    /// Checks against the parameters recorded in `hash`, so hashes made with other costs
    /// still verify. A missing or unreadable hash is checked against the dummy hash and
    /// answers false.
    pub(crate) fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        if let Some(Ok(hash)) = hash.map(PasswordHash::new) {
            return self
                .argon2
                .verify_password(password.as_bytes(), &hash)
                .is_ok();
        }
        let dummy = PasswordHash::new(&self.dummy_hash).expect("the dummy hash is a PHC string");
        // Spend the time of a real check; the outcome does not matter.
        std::hint::black_box(
            self.argon2
                .verify_password(password.as_bytes(), &dummy)
                .is_ok(),
        );
        false
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Failure::internal(format!("hashing the password failed: {e}")))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn right_password_verifies_and_wrong_one_does_not() {
        let passwords = Passwords::new(PasswordCost::Fast);
        let hash = passwords.hash("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
        assert!(passwords.verify("correct horse battery staple", Some(&hash)));
        assert!(!passwords.verify("correct horse battery stapler", Some(&hash)));
        assert!(!passwords.verify("", Some(&hash)));
    }

    #[test]
    fn salts_are_random() {
        let passwords = Passwords::new(PasswordCost::Fast);
        let first = passwords.hash("same").unwrap();
        let second = passwords.hash("same").unwrap();
        assert_ne!(first, second);
        assert!(passwords.verify("same", Some(&first)));
        assert!(passwords.verify("same", Some(&second)));
    }

    #[test]
    fn unknown_user_and_unreadable_hash_answer_false() {
        let passwords = Passwords::new(PasswordCost::Fast);
        assert!(!passwords.verify("anything", None));
        assert!(!passwords.verify("", None));
        assert!(!passwords.verify("anything", Some("not a phc string")));
    }

    #[test]
    fn a_hash_of_another_cost_still_verifies() {
        let fast = Passwords::new(PasswordCost::Fast).hash("pw").unwrap();
        let passwords = Passwords::new(PasswordCost::Default);
        assert!(passwords.verify("pw", Some(&fast)));
        assert!(!passwords.verify("wrong", Some(&fast)));
    }

    #[test]
    fn default_cost_is_the_production_setting_and_unknown_users_pay_for_it() {
        let passwords = Passwords::new(PasswordCost::Default);
        assert!(
            passwords
                .dummy_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            passwords.dummy_hash
        );
        let hash = passwords.hash("pw").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // The fastest of a few runs, so that other load on the machine does not count.
        let fastest = |hash: Option<&str>| {
            (0..3)
                .map(|_| {
                    let started = Instant::now();
                    assert!(!passwords.verify("wrong", hash));
                    started.elapsed()
                })
                .min()
                .unwrap()
        };
        let real = fastest(Some(&hash));
        let dummy = fastest(None);
        // The dummy check does the same Argon2 work (19 MiB, 2 passes), not a shortcut.
        assert!(
            dummy > real / 2 && dummy > Duration::from_millis(1),
            "real {real:?}, dummy {dummy:?}"
        );
    }
}
