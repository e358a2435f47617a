//! Bank-interleaved vectors (`overlap.interleaved`).
//!
//! A bank-balanced matrix with `banks` banks of `bank_size` columns reads
//! column `b * bank_size + j` from position `j` of private bank `b`. The
//! strided vector load fills position `j` of every bank in load cycle `j`
//! (the elements `b * bank_size + j`, far apart in the vector memory). The
//! interleaved vector load reads a run of consecutive words instead: word
//! `a` of the source region goes to bank `a % banks`, position `a / banks`.
//! So the program generator stores column `c` at word
//! `(c % bank_size) * banks + c / bank_size`: the pattern and the CSB stay
//! as they are (contiguous column ranges per bank), only where each element
//! sits in the vector memory changes.
//!
//! The vectors the machine produces (SpMxV rows, element-wise results) are
//! written in this order by permuting the producer's rows; a vector the
//! host sends or takes is reordered by the host ([`HostLayout`]). When the
//! length is not a multiple of `banks`, some words hold no element (the
//! last bank's padding): the host writes zeros there.

/// Where the elements of one vector of `len` elements sit, for SpMxVs with
/// `banks` banks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleave {
    pub len: usize,
    pub banks: usize,
}

impl Interleave {
    pub fn new(len: usize, banks: usize) -> Interleave {
        Interleave {
            len,
            banks: banks.max(1),
        }
    }
    /// Columns per bank: `ceil(len / banks)`.
    pub fn bank_size(&self) -> usize {
        self.len.div_ceil(self.banks)
    }
    /// Words the vector takes: every bank's `bank_size` positions.
    pub fn words(&self) -> usize {
        self.banks * self.bank_size()
    }
    /// The element at word `a`, or `None` for the last bank's padding.
    pub fn element(&self, a: usize) -> Option<usize> {
        let c = (a % self.banks) * self.bank_size() + a / self.banks;
        (a < self.words() && c < self.len).then_some(c)
    }
    /// The word that holds element `c`.
    pub fn word(&self, c: usize) -> usize {
        let bs = self.bank_size();
        (c % bs) * self.banks + c / bs
    }
    /// Elements in word order (`None`: padding): the order a producer
    /// writes its rows in.
    pub fn order(&self) -> Vec<Option<usize>> {
        (0..self.words()).map(|a| self.element(a)).collect()
    }
    /// `v` (in element order) as the words of the vector memory (padding 0).
    pub fn to_words(&self, v: &[i64]) -> Vec<i64> {
        (0..self.words())
            .map(|a| self.element(a).and_then(|c| v.get(c)).copied().unwrap_or(0))
            .collect()
    }
    /// The elements, in order, of the words `w`.
    pub fn from_words(&self, w: &[i64]) -> Vec<i64> {
        (0..self.len)
            .map(|c| w.get(self.word(c)).copied().unwrap_or(0))
            .collect()
    }
}

/// How the host orders what it sends and takes: the vector of every `load`
/// and every `store` in element order, or (`Some`) bank-interleaved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostLayout {
    pub load: Option<Interleave>,
    pub store: Option<Interleave>,
}

impl HostLayout {
    /// The words a `load` writes for the host's vector `v`.
    pub fn load_words(&self, v: &[i64]) -> Vec<i64> {
        match self.load {
            Some(il) => il.to_words(v),
            None => v.to_vec(),
        }
    }
    /// Elements the host sends per `load` of a region of `words` words.
    pub fn load_len(&self, words: usize) -> usize {
        self.load.map_or(words, |il| il.len)
    }
    /// The host's vector from the words a `store` read.
    pub fn store_values(&self, w: &[i64]) -> Vec<i64> {
        match self.store {
            Some(il) => il.from_words(w),
            None => w.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_elements_are_inverse_and_banks_hold_contiguous_columns() {
        for (len, banks) in [(512, 32), (153, 32), (64, 6), (7, 8), (1, 1), (10, 3)] {
            let il = Interleave::new(len, banks);
            let bs = il.bank_size();
            let mut seen = vec![false; len];
            for a in 0..il.words() {
                if let Some(c) = il.element(a) {
                    assert_eq!(il.word(c), a, "{len}/{banks}: element {c}");
                    assert!(!seen[c]);
                    seen[c] = true;
                    // Bank a % banks, position a / banks: column b * bs + j.
                    assert_eq!(c, (a % banks) * bs + a / banks);
                }
            }
            assert!(
                seen.iter().all(|&s| s),
                "{len}/{banks}: every element has a word"
            );
            let v: Vec<i64> = (0..len as i64).map(|x| 3 * x - 7).collect();
            let w = il.to_words(&v);
            assert_eq!(w.len(), il.words());
            assert_eq!(il.from_words(&w), v);
            let holes = il.order().iter().filter(|e| e.is_none()).count();
            assert_eq!(holes, il.words() - len);
            assert!(w
                .iter()
                .zip(il.order())
                .all(|(&x, e)| e.is_some() || x == 0));
        }
    }
}
