//! The graduate's dashboard: their attached diplomas, each with its key, its state and
//! who verified it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::diploma::DiplomaScope;
use crate::error::PortError;
use crate::link::Link;
use crate::ports::{LinkRepository, RecordReader, VerificationLog};
use crate::profile::ProfileId;
use crate::record::DiplomaRecord;
use crate::verification::VerificationEvent;

/// One attached diploma.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyDiploma {
    pub link: Link,
    pub record: DiplomaRecord,
    /// Newest first.
    pub verifications: Vec<VerificationEvent>,
}

/// Use case: list my diplomas.
#[derive(Clone)]
pub struct ListMyDiplomas {
    pub links: Arc<dyn LinkRepository>,
    pub records: Arc<dyn RecordReader>,
    pub log: Arc<dyn VerificationLog>,
}

impl fmt::Debug for ListMyDiplomas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ListMyDiplomas")
    }
}

impl ListMyDiplomas {
    /// The profile's diplomas, oldest attached first, withdrawn ones included (with their
    /// state, so the holder sees why a key stopped verifying). Three reads, whatever the
    /// number of diplomas.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn execute(&self, profile: ProfileId) -> Result<Vec<MyDiploma>, PortError> {
        let links = self.links.list_for_profile(profile).await?;
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let record_ids: Vec<_> = links.iter().map(|l| l.record).collect();
        let link_ids: Vec<_> = links.iter().map(|l| l.id).collect();
        let mut records: HashMap<_, _> = self
            .records
            .get_many(&record_ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let mut events: HashMap<_, Vec<VerificationEvent>> = HashMap::new();
        for event in self.log.list_for_links(&link_ids).await? {
            events.entry(event.link).or_default().push(event);
        }
        Ok(links
            .into_iter()
            .filter(|l| l.profile == profile)
            .filter_map(|link| {
                let record = records.remove(&link.record)?;
                let mut verifications = events.remove(&link.id).unwrap_or_default();
                verifications.sort_by_key(|e| std::cmp::Reverse(e.at));
                Some(MyDiploma {
                    link,
                    record,
                    verifications,
                })
            })
            .collect())
    }

    /// The diplomas that left the profile because a certified claimant, born where the
    /// exam office recorded, took them, or the exam office released them; newest first.
    /// The holder sees why in their space.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn taken_away(&self, profile: ProfileId) -> Result<Vec<TakenAway>, PortError> {
        let taken = self.links.taken_from(profile).await?;
        if taken.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<_> = taken.iter().map(|t| t.record).collect();
        let scopes: HashMap<_, _> = self
            .records
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r.scope))
            .collect();
        Ok(taken
            .into_iter()
            .filter_map(|t| {
                Some(TakenAway {
                    scope: *scopes.get(&t.record)?,
                    at: t.at,
                    by: t.by,
                })
            })
            .collect())
    }
}

/// A diploma that left the profile without the holder: a claimant whose identity
/// FranceConnect certifies, born at the place the exam office recorded, attached it, or
/// the exam office released it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenAway {
    pub scope: DiplomaScope,
    pub at: time::OffsetDateTime,
    pub by: crate::link::LinkEndedBy,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LinkState;
    use crate::ports::{MockLinkRepository, MockRecordReader, MockVerificationLog};
    use crate::testing::*;
    use crate::verification::Organisation;
    use time::Duration;

    #[tokio::test]
    async fn diplomas_come_with_their_verifications_newest_first() {
        let mut links = MockLinkRepository::new();
        links.expect_list_for_profile().returning(|_| {
            let mut withdrawn = link(2, 1, 2, "BBBB2222");
            withdrawn.state = LinkState::Withdrawn { at: NOW };
            Ok(vec![link(1, 1, 1, "AAAA1111"), withdrawn])
        });
        let mut records = MockRecordReader::new();
        records.expect_get_many().times(1).returning(|_| {
            Ok(vec![
                record(2, marie(), scope()),
                record(1, marie(), scope()),
            ])
        });
        let mut log = MockVerificationLog::new();
        log.expect_list_for_links().times(1).returning(|_| {
            Ok(vec![
                VerificationEvent {
                    link: link_id(1),
                    at: NOW - Duration::days(2),
                    organisation: None,
                    share: None,
                },
                VerificationEvent {
                    link: link_id(1),
                    at: NOW,
                    organisation: Organisation::parse("ACME").unwrap(),
                    share: None,
                },
            ])
        });
        let list = ListMyDiplomas {
            links: Arc::new(links),
            records: Arc::new(records),
            log: Arc::new(log),
        }
        .execute(profile_id(1))
        .await
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].record.id, record_id(1));
        assert_eq!(list[0].verifications.len(), 2);
        assert_eq!(list[0].verifications[0].at, NOW);
        assert!(list[1].verifications.is_empty());
        assert!(!list[1].link.is_active());
    }

    #[tokio::test]
    async fn an_empty_profile_costs_one_read() {
        let mut links = MockLinkRepository::new();
        links
            .expect_list_for_profile()
            .times(1)
            .returning(|_| Ok(vec![]));
        let mut records = MockRecordReader::new();
        records.expect_get_many().never();
        let mut log = MockVerificationLog::new();
        log.expect_list_for_links().never();
        let list = ListMyDiplomas {
            links: Arc::new(links),
            records: Arc::new(records),
            log: Arc::new(log),
        }
        .execute(profile_id(1))
        .await
        .unwrap();
        assert!(list.is_empty());
    }

    #[tokio::test]
    async fn a_storage_failure_is_an_error() {
        let mut links = MockLinkRepository::new();
        links
            .expect_list_for_profile()
            .returning(|_| Err(PortError::unavailable("down")));
        let result = ListMyDiplomas {
            links: Arc::new(links),
            records: Arc::new(MockRecordReader::new()),
            log: Arc::new(MockVerificationLog::new()),
        }
        .execute(profile_id(1))
        .await;
        assert!(result.is_err());
    }
}
