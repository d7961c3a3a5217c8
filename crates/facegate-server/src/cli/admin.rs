//! `facegate admin`: maintenance of stored data.

use crate::app;
use crate::cli::print_json;
use crate::settings::Settings;

/// `facegate admin reembed`: prints what was updated and which references have no crop.
pub fn reembed(settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(app::reembed(settings))?;
    if !report.without_crop.is_empty() {
        tracing::warn!(
            count = report.without_crop.len(),
            "references enrolled before face crops were kept cannot be re-embedded: enroll them again"
        );
    }
    print_json(&report)
}
