use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_batch")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub exam_office: String,
    pub diploma_kind: String,
    pub session: i32,
    pub academie: String,
    pub source_system: String,
    pub exported_at: TimeDateTimeWithTimeZone,
    pub imported_at: TimeDateTimeWithTimeZone,
    pub complete: bool,
    pub record_count: i64,
    pub fingerprint: String,
    pub signature_key_id: Option<String>,
    pub signature: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
