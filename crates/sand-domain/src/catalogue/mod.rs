//! The public catalogue: every (diploma kind, session, académie) whose complete batch
//! is published. One click from the home page.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::academie::Academie;
use crate::diploma::{DiplomaKind, DiplomaScope, Session};
use crate::error::PortError;
use crate::issuer::{IssuedScope, IssuerCode};
use crate::ports::{Catalogue, CatalogueRevision};

/// The catalogue, grouped for display: académie → diploma kind → sessions (newest first),
/// and the issuer that holds each published scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueView {
    pub academies: BTreeMap<Academie, BTreeMap<DiplomaKind, Vec<Session>>>,
    issuers: BTreeMap<DiplomaScope, IssuerCode>,
    /// `academies` with each session's issuer beside it: what a page lists, without a
    /// lookup per session (thousands at national size, on every view).
    held: HeldScopes,
}

/// Académie → diploma kind → sessions (newest first), each with the issuer holding it.
pub type HeldScopes = BTreeMap<Academie, BTreeMap<DiplomaKind, Vec<(Session, IssuerCode)>>>;

impl CatalogueView {
    /// Groups published scopes; duplicates are ignored.
    #[must_use]
    pub fn from_scopes(scopes: impl IntoIterator<Item = IssuedScope>) -> Self {
        let mut academies: BTreeMap<Academie, BTreeMap<DiplomaKind, Vec<Session>>> =
            BTreeMap::new();
        let mut issuers = BTreeMap::new();
        for IssuedScope { scope, issuer } in scopes {
            issuers.insert(scope, issuer);
            academies
                .entry(scope.academie)
                .or_default()
                .entry(scope.kind)
                .or_default()
                .push(scope.session);
        }
        for kinds in academies.values_mut() {
            for sessions in kinds.values_mut() {
                sessions.sort_unstable_by(|a, b| b.cmp(a));
                sessions.dedup();
            }
        }
        let held = academies
            .iter()
            .map(|(&academie, kinds)| {
                let kinds = kinds
                    .iter()
                    .map(|(&kind, sessions)| {
                        let sessions = sessions
                            .iter()
                            .map(|&session| {
                                let scope = DiplomaScope {
                                    kind,
                                    session,
                                    academie,
                                };
                                let issuer = issuers
                                    .get(&scope)
                                    .copied()
                                    .unwrap_or_else(|| IssuerCode::of_academie(academie));
                                (session, issuer)
                            })
                            .collect();
                        (kind, sessions)
                    })
                    .collect();
                (academie, kinds)
            })
            .collect();
        Self {
            academies,
            issuers,
            held,
        }
    }

    /// Académie → diploma kind → sessions (newest first), each with the issuer holding it.
    #[must_use]
    pub fn held(&self) -> &HeldScopes {
        &self.held
    }

    /// The issuer whose batch holds `scope`, if it is published.
    #[must_use]
    pub fn issuer_of(&self, scope: &DiplomaScope) -> Option<IssuerCode> {
        self.issuers.get(scope).copied()
    }

    #[must_use]
    pub fn contains(&self, scope: &DiplomaScope) -> bool {
        self.academies
            .get(&scope.academie)
            .and_then(|kinds| kinds.get(&scope.kind))
            .is_some_and(|sessions| sessions.contains(&scope.session))
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.academies.is_empty()
    }
}

/// Use case: show the catalogue.
///
/// The grouped view is kept between calls and rebuilt only when the store's revision
/// changed (an import): at national size there are thousands of published scopes, and the
/// page is viewed far more often than batches are imported.
#[derive(Clone)]
pub struct ShowCatalogue {
    catalogue: Arc<dyn Catalogue>,
    kept: Arc<Mutex<Option<KeptView>>>,
}

/// The grouped view, and the revision it was read at.
type KeptView = (CatalogueRevision, Arc<CatalogueView>);

impl std::fmt::Debug for ShowCatalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShowCatalogue")
    }
}

impl ShowCatalogue {
    pub fn new(catalogue: Arc<dyn Catalogue>) -> Self {
        Self {
            catalogue,
            kept: Arc::default(),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Option<KeptView>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// # Errors
    /// [`PortError`] when the catalogue cannot be read.
    pub async fn execute(&self) -> Result<Arc<CatalogueView>, PortError> {
        let known = self.kept().clone();
        let revision = known.as_ref().map(|(revision, _)| revision.clone());
        match self.catalogue.published_scopes_since(revision).await? {
            Some((revision, scopes)) => {
                let view = Arc::new(CatalogueView::from_scopes(scopes));
                *self.kept() = Some((revision, view.clone()));
                Ok(view)
            }
            None => match known {
                Some((_, view)) => Ok(view),
                // a store that answers "unchanged" to a first read: read it whole
                None => Ok(Arc::new(CatalogueView::from_scopes(
                    self.catalogue.published_scopes().await?,
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockCatalogue;

    fn scope(kind: DiplomaKind, year: u16, academie: Academie) -> DiplomaScope {
        DiplomaScope {
            kind,
            session: Session::new(year).unwrap(),
            academie,
        }
    }

    fn issued(kind: DiplomaKind, year: u16, academie: Academie) -> IssuedScope {
        IssuedScope {
            scope: scope(kind, year, academie),
            issuer: IssuerCode::of_academie(academie),
        }
    }

    #[tokio::test]
    async fn the_catalogue_groups_published_scopes_newest_session_first() {
        let mut catalogue = MockCatalogue::new();
        catalogue
            .expect_published_scopes_since()
            .times(1)
            .returning(|_| {
                Ok(Some((
                    CatalogueRevision("1".into()),
                    vec![
                        issued(DiplomaKind::BacGeneral, 2018, Academie::Lyon),
                        issued(DiplomaKind::BacGeneral, 2021, Academie::Lyon),
                        issued(DiplomaKind::BacGeneral, 2021, Academie::Lyon),
                        issued(DiplomaKind::Dnb, 2019, Academie::LaReunion),
                        IssuedScope {
                            scope: scope(DiplomaKind::Bts, 2020, Academie::Paris),
                            issuer: IssuerCode::parse("SIEC").unwrap(),
                        },
                    ],
                )))
            });
        let view = ShowCatalogue::new(Arc::new(catalogue))
            .execute()
            .await
            .unwrap();
        let lyon = &view.academies[&Academie::Lyon][&DiplomaKind::BacGeneral];
        assert_eq!(
            lyon.iter().map(|s| s.year()).collect::<Vec<_>>(),
            vec![2021, 2018]
        );
        assert!(view.contains(&scope(DiplomaKind::Dnb, 2019, Academie::LaReunion)));
        assert!(!view.contains(&scope(DiplomaKind::Dnb, 2019, Academie::Lyon)));
        assert_eq!(
            view.issuer_of(&scope(DiplomaKind::Bts, 2020, Academie::Paris))
                .map(|i| i.code().to_owned()),
            Some("SIEC".to_owned())
        );
        assert_eq!(
            view.issuer_of(&scope(DiplomaKind::BacGeneral, 2018, Academie::Lyon)),
            Some(IssuerCode::of_academie(Academie::Lyon))
        );
        assert_eq!(
            view.issuer_of(&scope(DiplomaKind::Dnb, 2019, Academie::Lyon)),
            None
        );
    }

    #[tokio::test]
    async fn an_unreadable_catalogue_is_an_error_not_an_empty_list() {
        let mut catalogue = MockCatalogue::new();
        catalogue
            .expect_published_scopes_since()
            .returning(|_| Err(PortError::unavailable("db down")));
        let result = ShowCatalogue::new(Arc::new(catalogue)).execute().await;
        assert!(matches!(result, Err(PortError::Unavailable(_))));
    }

    #[tokio::test]
    async fn the_view_is_kept_until_the_revision_changes() {
        let mut catalogue = MockCatalogue::new();
        let mut seq = mockall::Sequence::new();
        catalogue
            .expect_published_scopes_since()
            .withf(Option::is_none)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(Some((
                    CatalogueRevision("1".into()),
                    vec![issued(DiplomaKind::Dnb, 2019, Academie::Lyon)],
                )))
            });
        catalogue
            .expect_published_scopes_since()
            .withf(|known| known.as_ref().is_some_and(|r| r.0 == "1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        catalogue
            .expect_published_scopes_since()
            .withf(|known| known.as_ref().is_some_and(|r| r.0 == "1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(Some((
                    CatalogueRevision("2".into()),
                    vec![
                        issued(DiplomaKind::Dnb, 2019, Academie::Lyon),
                        issued(DiplomaKind::Dnb, 2020, Academie::Lyon),
                    ],
                )))
            });
        catalogue
            .expect_published_scopes_since()
            .withf(|known| known.as_ref().is_some_and(|r| r.0 == "2"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        let show = ShowCatalogue::new(Arc::new(catalogue));
        let first = show.execute().await.unwrap();
        let again = show.execute().await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "an unchanged catalogue is not rebuilt"
        );
        let changed = show.clone().execute().await.unwrap();
        assert!(changed.contains(&scope(DiplomaKind::Dnb, 2020, Academie::Lyon)));
        assert!(!first.contains(&scope(DiplomaKind::Dnb, 2020, Academie::Lyon)));
        let kept = show.execute().await.unwrap();
        assert!(Arc::ptr_eq(&changed, &kept));
    }
}
