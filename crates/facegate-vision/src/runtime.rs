//! Loading ONNX Runtime and building sessions.

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::VisionError;
use crate::manifest::{self, ManifestEntry};

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Loads `libonnxruntime` from the models folder (once per process) and returns the
/// environment sessions are built in. A missing or changed library is a clear error, not
/// a panic.
pub fn environment(models_dir: &Path) -> Result<&'static Environment, VisionError> {
    let result = ENVIRONMENT.get_or_init(|| {
        let entry = manifest::runtime_entry();
        let path = manifest::verified_path(models_dir, &entry).map_err(|e| match e {
            VisionError::ModelMissing { reason, .. } => reason,
            other => other.to_string(),
        })?;
        ort::init_from(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .with_name("facegate")
            .build()
            .map_err(|e| e.to_string())
    });
    result
        .as_ref()
        .map_err(|reason| VisionError::RuntimeUnavailable {
            path: models_dir
                .join(manifest::runtime_entry().file)
                .display()
                .to_string(),
            reason: reason.clone(),
        })
}

/// Opens one model of the manifest as a session with `intra_threads` threads that do not
/// spin (spinning threads halve throughput on small machines), at ONNX Runtime's full
/// graph optimisation (level 3, with its blocked NCHWc layout: every model of the manifest
/// measured fastest there once its PReLUs were rewritten, `scripts/convert_prelu.py`).
pub fn open_session(
    models_dir: &Path,
    file: &str,
    intra_threads: usize,
) -> Result<Session, VisionError> {
    let entry: ManifestEntry = manifest::entry(file).ok_or_else(|| VisionError::ModelMissing {
        file: file.to_owned(),
        reason: "not listed in models/manifest.toml".to_owned(),
    })?;
    let path = manifest::verified_path(models_dir, &entry)?;
    let env = environment(models_dir)?;
    let session = Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(ort::Error::from)?
        .with_intra_threads(intra_threads)
        .map_err(ort::Error::from)?
        .with_inter_threads(1)
        .map_err(ort::Error::from)?
        .with_intra_op_spinning(false)
        .map_err(ort::Error::from)?
        .commit_from_file(&path)?;
    Ok(session)
}

/// One output tensor of a model run.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub shape: Vec<i64>,
    pub data: Vec<f32>,
}

/// A model session with its single input's name.
#[derive(Debug)]
pub struct Model {
    session: Session,
    input: String,
}

impl Model {
    /// Opens `file` (a path of the manifest) in the models folder.
    pub fn open(models_dir: &Path, file: &str, intra_threads: usize) -> Result<Self, VisionError> {
        let session = open_session(models_dir, file, intra_threads)?;
        let input = session
            .inputs()
            .first()
            .map(|i| i.name().to_owned())
            .ok_or_else(|| VisionError::Inference(format!("{file} has no input")))?;
        Ok(Self { session, input })
    }

    /// Runs the model on one f32 tensor and returns every output, in the model's order.
    pub fn run(&mut self, shape: &[usize], data: &[f32]) -> Result<Vec<Output>, VisionError> {
        let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let tensor = ort::value::TensorRef::from_array_view((shape, data))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])?;
        let mut result = Vec::with_capacity(outputs.len());
        for (name, value) in &outputs {
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            result.push(Output {
                name: name.to_owned(),
                shape: shape.to_vec(),
                data: data.to_vec(),
            });
        }
        Ok(result)
    }

    /// Whether the model takes several images in one run (a dynamic leading dimension).
    pub fn batches(&self) -> bool {
        self.session
            .inputs()
            .first()
            .and_then(|i| i.dtype().tensor_shape())
            .is_some_and(|shape| shape.first().is_some_and(|&d| d < 0))
    }

    /// Input and output names with their shapes, for diagnostics.
    pub fn describe(&self) -> String {
        let fmt = |outlets: &[ort::value::Outlet]| {
            outlets
                .iter()
                .map(|o| format!("{}: {:?}", o.name(), o.dtype()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "inputs [{}] outputs [{}]",
            fmt(self.session.inputs()),
            fmt(self.session.outputs())
        )
    }
}

/// Finds an output by name.
pub fn output<'a>(outputs: &'a [Output], name: &str) -> Result<&'a Output, VisionError> {
    outputs
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| VisionError::Inference(format!("model has no output named {name}")))
}
