//! The `resources` section of both reports: the FPGA resource estimate of a
//! configuration on a device family ([`crate::resources::estimate`]),
//! checked against the budget of one real device of that family.

use crate::config::{Config, ConfigError};
use crate::resources::{
    check_budget, estimate, Budget, Device, Overrun, ResourceEstimate, ARRIA10_GX1150, XCKU060,
};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resources {
    pub device: Device,
    pub device_label: &'static str,
    pub estimate: ResourceEstimate,
    /// The device the budget is checked against.
    pub budget_name: &'static str,
    pub budget: Budget,
    pub fits_budget: bool,
    /// Every resource over budget (empty when it fits).
    pub over_budget: Vec<Overrun>,
}

/// The budget a device is checked against (DSP blocks, block RAMs, logic):
/// Arria 10 GX1150 or XCKU060.
pub fn device_budget(device: Device) -> (&'static str, Budget) {
    match device {
        Device::IntelM20k => ("Intel Arria 10 GX1150", ARRIA10_GX1150),
        Device::XilinxRamb36 => ("Xilinx Kintex UltraScale XCKU060", XCKU060),
    }
}

/// The resource estimate of `cfg` on `device`, checked against the device's budget ([`device_budget`]).
pub fn resources(cfg: &Config, device: Device) -> Result<Resources, ConfigError> {
    let est = estimate(cfg, device)?;
    let (budget_name, budget) = device_budget(device);
    let over_budget = match check_budget(&est, &budget) {
        Ok(()) => Vec::new(),
        Err(e) => e.over,
    };
    Ok(Resources {
        device,
        device_label: device.label(),
        estimate: est,
        budget_name,
        budget,
        fits_budget: over_budget.is_empty(),
        over_budget,
    })
}
