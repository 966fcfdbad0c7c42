use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "diploma_record")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub batch_id: Uuid,
    pub diploma_kind: String,
    pub session: i32,
    pub academie: String,
    pub exam_office: String,
    pub candidate_number: String,
    pub civility: Option<String>,
    pub birth_name: String,
    pub birth_name_key: String,
    pub first_names: String,
    pub birth_date: TimeDate,
    pub birth_place: Option<String>,
    pub usage_name: Option<String>,
    pub ine: Option<String>,
    pub speciality: Option<String>,
    pub mention: Option<String>,
    pub deliberation_date: TimeDate,
    pub content_hash: String,
    pub withdrawn_at: Option<TimeDateTimeWithTimeZone>,
    pub birth_place_code: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
