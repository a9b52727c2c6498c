//! An account's children (contacts, locations, notes, activities, policies and their jobs): reads
//! that hide a merge's uncommitted copies, and the changes that add or edit them, each one
//! conditional transaction with the account (see [`super::service`]).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::AccountError;
use super::input::{contact_from, ContactFields, NewActivity, NewPolicy};
use super::model::*;
use super::service::{lost_race, refuse_if_withdrawn, Accounts, Attempts};
use super::terms::{HolderTerms, PlaceTerms};

impl<'a> Accounts<'a> {
    /// All visible children of one kind, in id order, with their account. Copies written by a
    /// merge that has not committed are hidden, so a reader sees either all of a merge or none.
    pub async fn list_children<T: DeserializeOwned>(
        &self,
        n: u64,
        kind: ChildKind,
    ) -> Result<(Account, Vec<Versioned<Stored<T>>>), AccountError> {
        let account = self.load(n).await?.value;
        let hidden = account.merge.as_ref().filter(|m| m.target == n).map(|m| m.merge_id.clone());
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.repo().children_page(n, Some(kind), after.as_ref(), 500).await?;
            for item in &page.items {
                let child = Versioned::<Stored<T>>::try_from(item)?;
                if child.value.pending_merge.is_some() && child.value.pending_merge == hidden {
                    continue;
                }
                out.push(child);
            }
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok((account, out)),
            }
        }
    }

    /// The visible children of `kinds` under an account already read, for `include`: one query
    /// over the account's children when several kinds are asked, over one kind's when one is.
    pub async fn children_of(&self, account: &Account, kinds: &[ChildKind]) -> Result<Children, AccountError> {
        let n = account.id;
        let hidden = account.merge.as_ref().filter(|m| m.target == n).map(|m| m.merge_id.clone());
        let only = match kinds {
            [one] => Some(*one),
            _ => None,
        };
        let mut out = Children::default();
        let mut after = None;
        loop {
            let page = self.repo().children_page(n, only, after.as_ref(), 500).await?;
            for item in &page.items {
                let Some(kind) = item.sk.split('#').nth(1).and_then(ChildKind::from_key) else { continue };
                if kinds.contains(&kind) {
                    out.add(kind, item, hidden.as_deref())?;
                }
            }
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok(out),
            }
        }
    }

    pub async fn get_child<T: DeserializeOwned>(
        &self,
        n: u64,
        kind: ChildKind,
        id: u64,
    ) -> Result<(Account, Versioned<Stored<T>>), AccountError> {
        let account = self.load(n).await?.value;
        let hidden = account.merge.as_ref().filter(|m| m.target == n).map(|m| m.merge_id.clone());
        let not_found =
            || AccountError::NotFound { uri: format!("{}/{}s/{}", account_uri(n), kind.key(), format_id(id)) };
        let child = self.repo().child::<T>(n, kind, id).await?.ok_or_else(not_found)?;
        if child.value.pending_merge.is_some() && child.value.pending_merge == hidden {
            return Err(not_found());
        }
        Ok((account, child))
    }

    pub(crate) async fn child_ids(&self, count: u64) -> Result<u64, AccountError> {
        Ok(self.repo().next_child_ids(count).await?)
    }

    /// Adds a child that does not change the account's attributes (notes, activities): the account
    /// is only checked, so its checksum stays as it was.
    async fn add_plain_child<T: Serialize + Clone>(
        &self,
        n: u64,
        kind: ChildKind,
        action: &'static str,
        data: T,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<T>>), AccountError> {
        self.check_txn(txn).await?;
        let id = self.child_ids(1).await?;
        let child = Stored { id, pending_merge: None, data };
        let uri = format!("{}/{}s/{}", account_uri(n), kind.key(), format_id(id));
        let mut attempts = Attempts::new();
        loop {
            attempts.next().await?;
            let current = self.load(n).await?;
            Self::not_merging(&current.value)?;
            refuse_if_withdrawn(&current.value, action)?;
            let writes =
                vec![self.repo().check_account(n, current.version), self.repo().put_child(n, kind, &child, 1, 0)?];
            match self.commit(writes, txn.map(|t| (t, 201, uri.as_str()))).await {
                Err(e) if lost_race(&e) => continue,
                done => return done.map(|()| (current.value, Versioned { value: child, version: 1 })),
            }
        }
    }

    pub async fn add_note(
        &self,
        n: u64,
        note: (Option<String>, String, String, bool),
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Note>>), AccountError> {
        let (subject, body, topic, confidential) = note;
        let note = Note { subject, body, topic, confidential, created_at: self.now };
        self.add_plain_child(n, ChildKind::Note, "createNote", note, txn).await
    }

    pub async fn add_activity(
        &self,
        n: u64,
        a: NewActivity,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Activity>>), AccountError> {
        let act = Activity {
            subject: a.subject,
            description: a.description,
            priority: a.priority,
            due_date: a.due_date,
            created_at: self.now,
        };
        self.add_plain_child(n, ChildKind::Activity, "createActivity", act, txn).await
    }

    pub async fn add_contact(
        &self,
        n: u64,
        subtype: ContactSubtype,
        fields: ContactFields,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Contact>>), AccountError> {
        let id = self.child_ids(1).await?;
        let child = Stored { id, pending_merge: None, data: contact_from(subtype, fields, self.now) };
        let write = self.repo().put_child(n, ChildKind::Contact, &child, 1, 0)?;
        let account = self
            .update_account(n, None, txn, |a| {
                a.contact_count += 1;
                Ok(vec![write.clone()])
            })
            .await?;
        Ok((account.value, Versioned { value: child, version: 1 }))
    }

    pub async fn patch_contact(
        &self,
        n: u64,
        contact_id: u64,
        subtype_fields: impl FnOnce(ContactSubtype) -> Result<(ContactFields, Option<String>), AccountError>,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Contact>>), AccountError> {
        let (_, current) = self.get_child::<Contact>(n, ChildKind::Contact, contact_id).await?;
        let (fields, checksum) = subtype_fields(current.value.data.subtype)?;
        let uri = format!("{}/contacts/{}", account_uri(n), format_id(contact_id));
        self.check_checksum(checksum.as_deref(), current.version, &uri)?;
        let mut c = current.value.clone();
        apply_contact(&mut c.data, fields);
        let version = current.version + 1;
        let write = self.repo().put_child(n, ChildKind::Contact, &c, version, current.version)?;
        let display = c.data.display_name();
        let result = self
            .update_account(n, None, txn, |a| {
                if a.holder.contact_id == contact_id {
                    a.holder.display_name = display.clone();
                    if let Some(t) = a.search.as_mut() {
                        t.holder = HolderTerms::of(&c.data);
                    }
                }
                Ok(vec![write.clone()])
            })
            .await;
        let account = self
            .child_outcome(result, n, ChildKind::Contact, contact_id, checksum.as_deref(), current.version, uri)
            .await?;
        Ok((account, Versioned { value: c, version }))
    }

    /// Removes a contact that is not the account holder (400 for the holder: an account always
    /// has one). With a checksum (`GW-Checksum`), a contact changed since is 409 and stays.
    pub async fn delete_contact(
        &self,
        n: u64,
        contact_id: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Account, AccountError> {
        // A retried request whose change was made is answered by its transaction id first (a removed
        // child would otherwise be 404).
        self.check_txn(txn).await?;
        let (account, current) = self.get_child::<Contact>(n, ChildKind::Contact, contact_id).await?;
        let uri = format!("{}/contacts/{}", account_uri(n), format_id(contact_id));
        if account.holder.contact_id == contact_id {
            return Err(AccountError::bad(
                "path.contactId",
                "is the account holder: an account keeps its holder (change the holder's details instead)",
            ));
        }
        self.check_checksum(checksum, current.version, &uri)?;
        let write = self.repo().delete_child(n, ChildKind::Contact, contact_id, current.version);
        let result = self
            .update_account(n, None, txn, |a| {
                a.contact_count = a.contact_count.saturating_sub(1);
                Ok(vec![write.clone()])
            })
            .await;
        self.child_outcome(result, n, ChildKind::Contact, contact_id, checksum, current.version, uri).await
    }

    /// Changes a location's address (any location; the primary's display name on the account
    /// follows). With a checksum, a location changed since is 409.
    pub async fn patch_location(
        &self,
        n: u64,
        location_id: u64,
        read: impl FnOnce(&Address) -> Result<(Address, Option<String>), AccountError>,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Location>>), AccountError> {
        // A retried request whose change was made is answered by its transaction id first (a removed
        // child would otherwise be 404).
        self.check_txn(txn).await?;
        let (_, current) = self.get_child::<Location>(n, ChildKind::Location, location_id).await?;
        let (address, checksum) = read(&current.value.data.address)?;
        let checksum = checksum.as_deref();
        let uri = format!("{}/locations/{}", account_uri(n), format_id(location_id));
        self.check_checksum(checksum, current.version, &uri)?;
        let mut l = current.value.clone();
        l.data.address = address;
        let version = current.version + 1;
        let write = self.repo().put_child(n, ChildKind::Location, &l, version, current.version)?;
        let display = l.data.display_name();
        let result = self
            .update_account(n, None, txn, |a| {
                if a.primary_location.id == location_id {
                    a.primary_location.display_name = display.clone();
                    if let Some(t) = a.search.as_mut() {
                        t.place = PlaceTerms::of(&l.data.address);
                    }
                }
                Ok(vec![write.clone()])
            })
            .await;
        let account =
            self.child_outcome(result, n, ChildKind::Location, location_id, checksum, current.version, uri).await?;
        Ok((account, Versioned { value: l, version }))
    }

    /// Removes a location that is not the account's primary one (400 for the primary: make
    /// another location primary first, as the original asks of policy locations).
    pub async fn delete_location(
        &self,
        n: u64,
        location_id: u64,
        checksum: Option<&str>,
        txn: Option<&ClientTxn>,
    ) -> Result<Account, AccountError> {
        // A retried request whose change was made is answered by its transaction id first (a removed
        // child would otherwise be 404).
        self.check_txn(txn).await?;
        let (_, current) = self.get_child::<Location>(n, ChildKind::Location, location_id).await?;
        let uri = format!("{}/locations/{}", account_uri(n), format_id(location_id));
        self.check_checksum(checksum, current.version, &uri)?;
        let write = self.repo().delete_child(n, ChildKind::Location, location_id, current.version);
        let result = self
            .update_account(n, None, txn, |a| {
                if a.primary_location.id == location_id {
                    return Err(AccountError::bad(
                        "path.locationId",
                        "is the account's primary location: make another location primary first",
                    ));
                }
                Ok(vec![write.clone()])
            })
            .await;
        self.child_outcome(result, n, ChildKind::Location, location_id, checksum, current.version, uri).await
    }

    /// A child change's outcome: the child changed under it (its condition failed) is the
    /// client's stale checksum (409), with the checksum it now has.
    #[allow(clippy::too_many_arguments)]
    async fn child_outcome(
        &self,
        result: Result<Versioned<Account>, AccountError>,
        n: u64,
        kind: ChildKind,
        id: u64,
        checksum: Option<&str>,
        read: u64,
        uri: String,
    ) -> Result<Account, AccountError> {
        match result {
            Ok(account) => Ok(account.value),
            Err(AccountError::Conflicted(Conflict::ChildChanged)) => {
                let current = match self.repo().child::<serde_json::Value>(n, kind, id).await? {
                    Some(now) => now.version.to_string(),
                    None => "none".into(),
                };
                Err(AccountError::ChecksumMismatch {
                    supplied: checksum.map_or_else(|| read.to_string(), str::to_string),
                    current,
                    uri,
                })
            }
            Err(e) => Err(e),
        }
    }

    pub async fn add_location(
        &self,
        n: u64,
        address: Address,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Location>>), AccountError> {
        let id = self.child_ids(1).await?;
        let mut stored = None;
        let account = self
            .update_account(n, None, txn, |a| {
                a.location_count += 1;
                let child = Stored {
                    id,
                    pending_merge: None,
                    data: Location {
                        code: a.location_count.to_string(),
                        address: address.clone(),
                        created_at: self.now,
                    },
                };
                let write = self.repo().put_child(n, ChildKind::Location, &child, 1, 0)?;
                stored = Some(child);
                Ok(vec![write])
            })
            .await?;
        Ok((account.value, Versioned { value: stored.expect("set by the successful attempt"), version: 1 }))
    }

    /// Adds a bound policy (our extension) with its issuance job; a Pending account becomes Active.
    pub async fn add_policy(
        &self,
        n: u64,
        new: NewPolicy,
        txn: Option<&ClientTxn>,
    ) -> Result<(Account, Versioned<Stored<Policy>>), AccountError> {
        self.check_txn(txn).await?;
        let mut policy = new.policy;
        policy.created_at = self.now;
        if self.repo().policy_number_taken(&policy.policy_number).await? {
            return Err(AccountError::Conflict { message: "A policy with this policy number already exists.".into() });
        }
        let first = self.child_ids(2 + new.sub_ids).await?;
        let (policy_id, job_id) = (first, first + 1);
        number_parts(&mut policy, first + 2);
        let child = Stored { id: policy_id, pending_merge: None, data: policy.clone() };
        let job = Stored {
            id: job_id,
            pending_merge: None,
            data: Job {
                job_number: format!("J{job_id:010}"),
                job_type: "Issuance".into(),
                policy_id,
                policy_number: policy.policy_number.clone(),
                created_at: self.now,
            },
        };
        let repo = self.repo();
        let writes = vec![
            repo.put_child(n, ChildKind::Policy, &child, 1, 0)?,
            repo.put_child(n, ChildKind::Job, &job, 1, 0)?,
            repo.claim_policy_number(&policy.policy_number, policy_id),
        ];
        let result = self
            .update_account(n, None, txn, |a| {
                refuse_if_withdrawn(a, "createPolicy")?;
                a.policy_count += 1;
                if a.status == AccountStatus::Pending {
                    a.status = AccountStatus::Active;
                }
                Ok(writes.clone())
            })
            .await;
        match result {
            Ok(account) => Ok((account.value, Versioned { value: child, version: 1 })),
            Err(AccountError::Conflicted(Conflict::PolicyNumberTaken)) => {
                Err(AccountError::Conflict { message: "A policy with this policy number already exists.".into() })
            }
            Err(e) => Err(e),
        }
    }
}

/// Gives a new policy's mortgagees, drivers, vehicles and lien holders their ids, in that order,
/// from `next` on (the ids [`NewPolicy::sub_ids`] reserved).
fn number_parts(policy: &mut Policy, mut next: u64) {
    let mut take = || {
        let id = next;
        next += 1;
        id
    };
    for m in &mut policy.mortgagees {
        m.id = take();
    }
    for d in &mut policy.drivers {
        d.id = take();
    }
    for v in &mut policy.vehicles {
        v.id = take();
        for l in &mut v.lien_holders {
            l.id = take();
        }
    }
}

fn apply_contact(c: &mut Contact, f: ContactFields) {
    macro_rules! set {
        ($($field:ident),*) => { $( if f.$field.is_some() { c.$field = f.$field; } )* };
    }
    set!(first_name, last_name, company_name, email, home_phone, work_phone, cell_phone, address, tax_id);
}

/// An account's children by kind, as `include` returns them.
#[derive(Debug, Default)]
pub struct Children {
    pub contacts: Vec<Versioned<Stored<Contact>>>,
    pub locations: Vec<Versioned<Stored<Location>>>,
    pub notes: Vec<Versioned<Stored<Note>>>,
    pub activities: Vec<Versioned<Stored<Activity>>>,
    pub policies: Vec<Versioned<Stored<Policy>>>,
    pub jobs: Vec<Versioned<Stored<Job>>>,
}

impl Children {
    fn add(&mut self, kind: ChildKind, item: &crate::store::Item, hidden: Option<&str>) -> Result<(), AccountError> {
        fn push<T: DeserializeOwned>(
            to: &mut Vec<Versioned<Stored<T>>>,
            item: &crate::store::Item,
            hidden: Option<&str>,
        ) -> Result<(), AccountError> {
            let child = Versioned::<Stored<T>>::try_from(item)?;
            // A merge's copies that have not committed stay hidden, as in every read.
            if child.value.pending_merge.is_none() || child.value.pending_merge.as_deref() != hidden {
                to.push(child);
            }
            Ok(())
        }
        match kind {
            ChildKind::Contact => push(&mut self.contacts, item, hidden),
            ChildKind::Location => push(&mut self.locations, item, hidden),
            ChildKind::Note => push(&mut self.notes, item, hidden),
            ChildKind::Activity => push(&mut self.activities, item, hidden),
            ChildKind::Policy => push(&mut self.policies, item, hidden),
            ChildKind::Job => push(&mut self.jobs, item, hidden),
        }
    }
}
