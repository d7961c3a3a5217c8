//! The decision of an active liveness challenge: the server draws a few head movements,
//! the client films them, and the frames must show one person, frontal first, making
//! exactly those movements in that order, with the frontal frames passing the passive
//! check. Pure: the frames arrive already measured ([`FrameReport`]).

use serde::{Deserialize, Serialize};

use crate::face::Embedding;
use crate::similarity;

/// One head movement of a challenge. Turns only: the head-pose model's pitch is too noisy
/// to ask for a nod (a frontal photo reads -14 degrees as a JPEG and -25 through a browser's
/// camera), so pitch plays no part in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    /// The head turns towards the subject's left (the image's right).
    TurnLeft,
    TurnRight,
}

/// What one frame showed.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameReport {
    pub faces: usize,
    /// The main face's yaw in degrees: positive when the subject turns to their right (the
    /// face towards the image's left).
    pub yaw: f32,
    pub embedding: Option<Embedding>,
    /// The passive liveness score; `None` where the frame could not tell.
    pub liveness: Option<f32>,
}

/// Thresholds of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChallengeRules {
    /// A frame within this many degrees of straight ahead is frontal.
    pub frontal_degrees: f32,
    /// A movement counts once the head turns at least this far.
    pub turn_degrees: f32,
    /// Cosine every frontal frame's face must reach against the first frame's.
    pub same_person: f32,
    /// The same for turned frames: lower, as a turned face matches its frontal view less.
    pub same_person_turned: f32,
    /// Passive score every scored frontal frame must reach.
    pub liveness: f32,
}

/// The outcome of a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Live,
    /// A frontal frame failed the passive check.
    Spoof,
    /// The frames do not show what was asked (wrong movements, faces, people).
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Live => "live",
            Verdict::Spoof => "spoof",
            Verdict::Failed => "failed",
        }
    }
}

/// Why a challenge was not passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A frame holds no face, or several.
    NotOneFace,
    DifferentPeople,
    NoFrontalFrame,
    NoMovement,
    WrongOrder,
    WrongMovements,
    /// No frontal frame held enough around the face for the passive check.
    InsufficientContext,
    PassiveCheckFailed,
}

/// The verdict, its reasons, the lowest passive score of the frontal frames and the
/// frontal frame that scored best (the audit image).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub score: Option<f32>,
    #[serde(skip)]
    pub best_frame: Option<usize>,
}

/// Where a frame's head points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pose {
    Frontal,
    Turned(Movement),
    /// Neither straight ahead nor turned far enough: says nothing.
    Between,
}

fn pose(frame: &FrameReport, rules: &ChallengeRules) -> Pose {
    let yaw = frame.yaw;
    if yaw.abs() <= rules.frontal_degrees {
        Pose::Frontal
    } else if yaw.abs() < rules.turn_degrees {
        Pose::Between
    } else if yaw > 0.0 {
        Pose::Turned(Movement::TurnRight)
    } else {
        Pose::Turned(Movement::TurnLeft)
    }
}

/// Decides a challenge from its frames, in the order they were filmed.
pub fn decide(challenge: &[Movement], frames: &[FrameReport], rules: &ChallengeRules) -> Decision {
    let mut reasons = Vec::new();
    if frames.is_empty() || frames.iter().any(|f| f.faces != 1) {
        reasons.push(Reason::NotOneFace);
    }
    if !one_person(frames, rules) {
        reasons.push(Reason::DifferentPeople);
    }
    let poses: Vec<Pose> = frames
        .iter()
        .map(|f| pose(f, rules))
        .filter(|p| *p != Pose::Between)
        .collect();
    if poses.first() != Some(&Pose::Frontal) {
        reasons.push(Reason::NoFrontalFrame);
    }
    let mut moves: Vec<Movement> = poses
        .iter()
        .filter_map(|p| match p {
            Pose::Turned(m) => Some(*m),
            _ => None,
        })
        .collect();
    moves.dedup();
    if moves.is_empty() {
        reasons.push(Reason::NoMovement);
    } else if moves != challenge {
        let (mut seen, mut asked) = (moves.clone(), challenge.to_vec());
        seen.sort_by_key(|m| *m as u8);
        asked.sort_by_key(|m| *m as u8);
        reasons.push(if seen == asked {
            Reason::WrongOrder
        } else {
            Reason::WrongMovements
        });
    }
    let frontal: Vec<(usize, f32)> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| pose(f, rules) == Pose::Frontal)
        .filter_map(|(i, f)| f.liveness.map(|s| (i, s)))
        .collect();
    let score = frontal.iter().map(|(_, s)| *s).reduce(f32::min);
    let best_frame = frontal
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| *i);
    let spoof = score.is_some_and(|s| s < rules.liveness);
    if spoof {
        reasons.push(Reason::PassiveCheckFailed);
    } else if score.is_none() && !reasons.contains(&Reason::NoFrontalFrame) {
        reasons.push(Reason::InsufficientContext);
    }
    let verdict = if spoof {
        Verdict::Spoof
    } else if reasons.is_empty() {
        Verdict::Live
    } else {
        Verdict::Failed
    };
    Decision {
        verdict,
        reasons,
        score,
        best_frame,
    }
}

/// Whether every frame's face is the first frame's person (frames without exactly one
/// face are [`Reason::NotOneFace`]'s).
fn one_person(frames: &[FrameReport], rules: &ChallengeRules) -> bool {
    let mut faces = frames.iter().filter(|f| f.faces == 1);
    let Some(first) = faces.next().and_then(|f| f.embedding.as_ref()) else {
        return false;
    };
    faces.all(|f| {
        let threshold = if pose(f, rules) == Pose::Frontal {
            rules.same_person
        } else {
            rules.same_person_turned
        };
        f.embedding
            .as_ref()
            .is_some_and(|e| similarity::cosine(first, e).is_ok_and(|s| s >= threshold))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::ModelId;

    const RULES: ChallengeRules = ChallengeRules {
        frontal_degrees: 10.0,
        turn_degrees: 20.0,
        same_person: 0.4,
        same_person_turned: 0.2,
        liveness: 0.5,
    };

    fn person(seed: f32) -> Embedding {
        let vector = (0..8).map(|i| ((i as f32 + 1.0) * seed).sin()).collect();
        Embedding::from_raw(ModelId("m".into()), vector).unwrap()
    }

    fn frame(yaw: f32, liveness: Option<f32>) -> FrameReport {
        FrameReport {
            faces: 1,
            yaw,
            embedding: Some(person(1.0)),
            liveness,
        }
    }

    const LEFT_RIGHT: [Movement; 2] = [Movement::TurnLeft, Movement::TurnRight];

    fn left_then_right() -> Vec<FrameReport> {
        vec![
            frame(0.0, Some(0.9)),
            frame(-12.0, None),
            frame(-35.0, None),
            frame(-30.0, None),
            frame(2.0, Some(0.8)),
            frame(32.0, None),
            frame(1.0, Some(0.95)),
        ]
    }

    #[test]
    fn the_asked_movements_of_one_live_person_pass() {
        let d = decide(&LEFT_RIGHT, &left_then_right(), &RULES);
        assert_eq!(
            (d.verdict, d.reasons.as_slice()),
            (Verdict::Live, &[][..]),
            "{d:?}"
        );
        assert_eq!((d.score, d.best_frame), (Some(0.8), Some(6)));
    }

    #[test]
    fn missing_wrong_and_reordered_movements_fail() {
        let still = vec![frame(0.0, Some(0.9)); 5];
        let d = decide(&LEFT_RIGHT, &still, &RULES);
        assert_eq!(
            (d.verdict, d.reasons.clone()),
            (Verdict::Failed, vec![Reason::NoMovement])
        );

        let mut reversed = left_then_right();
        for f in &mut reversed {
            f.yaw = -f.yaw;
        }
        let d = decide(&LEFT_RIGHT, &reversed, &RULES);
        assert_eq!(d.reasons, [Reason::WrongOrder]);

        let right = decide(&[Movement::TurnRight], &left_then_right(), &RULES);
        assert_eq!(right.reasons, [Reason::WrongMovements]);

        let mut turned_first = left_then_right();
        turned_first.remove(0);
        turned_first.remove(0);
        let d = decide(&LEFT_RIGHT, &turned_first, &RULES);
        assert_eq!(d.reasons, [Reason::NoFrontalFrame]);
    }

    #[test]
    fn another_person_or_a_crowd_fails() {
        let mut frames = left_then_right();
        frames[4].embedding = Some(person(2.7));
        let d = decide(&LEFT_RIGHT, &frames, &RULES);
        assert_eq!(
            (d.verdict, d.reasons.clone()),
            (Verdict::Failed, vec![Reason::DifferentPeople])
        );

        let mut frames = left_then_right();
        frames[2].faces = 2;
        assert_eq!(
            decide(&LEFT_RIGHT, &frames, &RULES).reasons,
            [Reason::NotOneFace]
        );
    }

    #[test]
    fn a_frontal_frame_below_the_passive_threshold_is_a_spoof() {
        let mut frames = left_then_right();
        frames[4].liveness = Some(0.1);
        let d = decide(&LEFT_RIGHT, &frames, &RULES);
        assert_eq!((d.verdict, d.score), (Verdict::Spoof, Some(0.1)));
        assert_eq!(d.reasons, [Reason::PassiveCheckFailed]);

        // No frontal frame could be scored: not evidence of life.
        let mut frames = left_then_right();
        for f in &mut frames {
            f.liveness = None;
        }
        let d = decide(&LEFT_RIGHT, &frames, &RULES);
        assert_eq!(
            (d.verdict, d.reasons.clone()),
            (Verdict::Failed, vec![Reason::InsufficientContext])
        );
    }
}
