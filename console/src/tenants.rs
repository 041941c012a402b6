//! Tenants as the console knows them: the owning group the policy checks
//! changes against, and the prefixes, kept in the console database whatever
//! clusters a tenant's policy was pushed to; with each cluster's live view
//! (policy and bytes cached per tenant) read from its coordinator.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use ringside_api::{
    access::{TenantOnCluster, TenantOverview, TenantsOverview},
    tenant::{TenantPolicy, TenantsView},
};
use sea_query::{Expr, ExprTrait, Iden, OnConflict, Order, Query};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    AppState, ConsoleError,
    store::{Store, StoreError, fetch_rows},
};

#[derive(Iden)]
enum Tenants {
    Table,
    Name,
    OwnerGroup,
    Prefixes,
    UpdatedAt,
    UpdatedBy,
}

/// A tenant's console record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub name: String,
    /// The group whose admins may change the tenant.
    pub group: String,
    pub prefixes: Vec<String>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl Store {
    pub async fn tenant_record(&self, name: &str) -> Result<Option<TenantRecord>, StoreError> {
        Ok(self.tenant_records(Some(name)).await?.pop())
    }

    pub async fn tenant_records(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<TenantRecord>, StoreError> {
        let mut query = Query::select()
            .columns([
                Tenants::Name,
                Tenants::OwnerGroup,
                Tenants::Prefixes,
                Tenants::UpdatedAt,
                Tenants::UpdatedBy,
            ])
            .from(Tenants::Table)
            .order_by(Tenants::Name, Order::Asc)
            .to_owned();
        if let Some(name) = name {
            query.and_where(Expr::col(Tenants::Name).eq(name));
        }
        fetch_rows!(self, &query, |row| {
            let name: String = row.try_get("name")?;
            let prefixes: String = row.try_get("prefixes")?;
            let at: i64 = row.try_get("updated_at")?;
            Ok(TenantRecord {
                prefixes: serde_json::from_str(&prefixes)
                    .map_err(|e| StoreError::Corrupt(format!("tenant {name}: {e}")))?,
                updated_at: DateTime::from_timestamp_millis(at)
                    .ok_or_else(|| StoreError::Corrupt(format!("tenant {name}: time {at}")))?,
                group: row.try_get("owner_group")?,
                updated_by: row.try_get("updated_by")?,
                name,
            })
        })
    }

    /// Records `policy`'s name, group and prefixes as the tenant's.
    pub async fn upsert_tenant(&self, policy: &TenantPolicy, by: &str) -> Result<(), StoreError> {
        let prefixes = serde_json::Value::from(policy.prefixes.clone()).to_string();
        let now = Utc::now().timestamp_millis();
        let query = Query::insert()
            .into_table(Tenants::Table)
            .columns([
                Tenants::Name,
                Tenants::OwnerGroup,
                Tenants::Prefixes,
                Tenants::UpdatedAt,
                Tenants::UpdatedBy,
            ])
            .values_panic([
                policy.name.clone().into(),
                policy.group.clone().into(),
                prefixes.into(),
                now.into(),
                by.into(),
            ])
            .on_conflict(
                OnConflict::column(Tenants::Name)
                    .update_columns([
                        Tenants::OwnerGroup,
                        Tenants::Prefixes,
                        Tenants::UpdatedAt,
                        Tenants::UpdatedBy,
                    ])
                    .to_owned(),
            )
            .to_owned();
        self.rows_affected(&query).await?;
        Ok(())
    }
}

/// How many coordinators are asked for their tenants at once.
const FAN_OUT: usize = 16;

impl AppState {
    /// The group that owns tenant `name`: the console's record, else what
    /// any coordinator's policy for it says (a tenant made with the CLI).
    pub async fn tenant_group(&self, name: &str) -> Result<Option<String>, ConsoleError> {
        Ok(self.store.tenant_record(name).await?.map(|r| r.group))
    }

    /// Every tenant the console or a coordinator knows, with each
    /// cluster's policy and usage.
    pub async fn tenants_overview(&self) -> Result<TenantsOverview, ConsoleError> {
        let records = self.store.tenant_records(None).await?;
        let remotes = self.remotes().await?;
        let views: Vec<(String, Result<TenantsView, String>)> = futures::stream::iter(remotes)
            .map(|remote| async move {
                let view = remote.json::<TenantsView>("/tenants").await;
                (remote.name.clone(), view)
            })
            .buffer_unordered(FAN_OUT)
            .collect()
            .await;
        let mut overview = TenantsOverview::default();
        let mut tenants: BTreeMap<String, TenantOverview> = records
            .into_iter()
            .map(|r| {
                (
                    r.name.clone(),
                    TenantOverview {
                        name: r.name,
                        group: r.group,
                        prefixes: r.prefixes,
                        clusters: Vec::new(),
                    },
                )
            })
            .collect();
        for (cluster, view) in views {
            let view = match view {
                Ok(view) => view,
                Err(error) => {
                    overview.unreachable.insert(cluster, error);
                    continue;
                }
            };
            for policy in view.tenants {
                let entry = tenants
                    .entry(policy.name.clone())
                    .or_insert_with(|| TenantOverview {
                        name: policy.name.clone(),
                        group: policy.group.clone(),
                        prefixes: policy.prefixes.clone(),
                        clusters: Vec::new(),
                    });
                entry.clusters.push(TenantOnCluster {
                    cluster: cluster.clone(),
                    used_bytes: view.used_bytes.get(&policy.name).copied().unwrap_or(0),
                    policy: Some(policy),
                });
            }
        }
        overview.tenants = tenants.into_values().collect();
        for tenant in &mut overview.tenants {
            tenant.clusters.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        }
        Ok(overview)
    }
}
