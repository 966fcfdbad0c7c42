//! The catalogue page's selection, and what is computed from one catalogue view for a
//! selection and kept until the view changes. A leaf: it depends on the domain only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sand_domain::academie::Academie;
use sand_domain::catalogue::CatalogueView;
use sand_domain::diploma::DiplomaKind;

/// A selection of the catalogue (each part optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Filtered {
    pub academie: Option<Academie>,
    pub kind: Option<DiplomaKind>,
    pub session: Option<u16>,
}

/// Rows of the catalogue's table a page shows: the page costs the same whatever the size
/// of the catalogue (the CSV and JSON exports hold every row).
pub(crate) const ROWS_PER_PAGE: usize = 50;

/// Most selections [`KeptPerSelection`] keeps for one view (then it starts afresh).
const MAX_KEPT_SELECTIONS: usize = 256;

/// Something computed from one catalogue view for a selection (the page's rendered
/// rows), kept until the view changes: with thousands of scopes, the catalogue page
/// costs its rows, not its query.
#[derive(Debug)]
pub(crate) struct KeptPerSelection<K, T> {
    kept: Mutex<Option<KeptFor<K, T>>>,
}

/// The view the kept values were computed from, and the values by selection.
type KeptFor<K, T> = (Arc<CatalogueView>, HashMap<K, Arc<T>>);

impl<K, T> Default for KeptPerSelection<K, T> {
    fn default() -> Self {
        Self {
            kept: Mutex::new(None),
        }
    }
}

impl<K: std::hash::Hash + Eq, T> KeptPerSelection<K, T> {
    /// The value for `selection` of `view`: the kept one if it was computed from this
    /// very view, else `make()` (then kept).
    pub(crate) fn get_or(
        &self,
        view: &Arc<CatalogueView>,
        selection: K,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((of, values)) = kept.as_ref()
                && Arc::ptr_eq(of, view)
                && let Some(value) = values.get(&selection)
            {
                return Arc::clone(value);
            }
        }
        // computed outside the lock: concurrent requests may compute it twice, once each
        let value = Arc::new(make());
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.as_mut() {
            Some((of, values)) if Arc::ptr_eq(of, view) && values.len() < MAX_KEPT_SELECTIONS => {
                values.insert(selection, Arc::clone(&value));
            }
            _ => {
                *kept = Some((
                    Arc::clone(view),
                    HashMap::from([(selection, Arc::clone(&value))]),
                ));
            }
        }
        value
    }
}

/// One page of the catalogue's table for one selection, rendered (escaped) once.
#[derive(Debug)]
pub(crate) struct RenderedRows {
    /// Rows of the whole selection.
    pub count: usize,
    /// This page (1-based) and how many there are (at least 1).
    pub page: usize,
    pub pages: usize,
    /// This page's rows.
    pub html: String,
}
