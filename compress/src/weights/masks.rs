//! Pruning masks saved as one `.safetensors` file: a U8 tensor per weight
//! (1 = kept, 0 = pruned), so any safetensors reader can load them. Kept
//! apart from [`super::rewrite`]: a mask file is a new file, not a model
//! written back.

use std::borrow::Cow;
use std::path::Path;

use ::safetensors::Dtype as StDtype;
use ndarray::Array2;

use crate::error::{one_line, Error, Result};
use crate::output::Dest;

use super::tensor::tensor_err;

/// One mask as a U8 safetensors tensor.
struct MaskView<'a> {
    shape: Vec<usize>,
    data: Cow<'a, [u8]>,
}

impl safetensors::View for MaskView<'_> {
    fn dtype(&self) -> StDtype {
        StDtype::U8
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Writes masks (true = kept) as one `.safetensors` file holding a U8 tensor
/// (1 = kept, 0 = pruned) per name, without metadata, atomically. Names must
/// be distinct. The bytes depend only on the masks.
pub fn write_masks(output: &Path, masks: &[(String, Array2<bool>)]) -> Result<()> {
    write_masks_to(Dest::path(output), masks)
}

/// [`write_masks`] to a destination: a path alone, or an output of a
/// command's [`OutputPlan`](crate::OutputPlan).
pub fn write_masks_to(dest: Dest, masks: &[(String, Array2<bool>)]) -> Result<()> {
    let output = &dest.shown();
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in masks {
        if !seen.insert(name) {
            return Err(tensor_err(output, name, "is given twice"));
        }
    }
    // A mask in C order is its own data (a bool is the byte 0 or 1).
    let views = masks.iter().map(|(n, m)| {
        let data = match m.as_slice() {
            Some(s) => Cow::Borrowed(bytemuck::cast_slice::<bool, u8>(s)),
            None => Cow::Owned(m.iter().map(|&k| u8::from(k)).collect()),
        };
        (
            n.clone(),
            MaskView {
                shape: m.shape().to_vec(),
                data,
            },
        )
    });
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| Error::file(output, format!("cannot encode masks: {}", one_line(e))))?;
    dest.write_bytes(&bytes)
}
