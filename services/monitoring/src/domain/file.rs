//! The household file (一户一档, 004: "一人一档案"): everything the mesh knows of one household
//! — its enrolment, every step of its chain (application, commitment, verification with its
//! sources, determinations and who made them, visits, warnings, complaints, referrals and
//! feedback, payments, recoveries) — as one print-ready page in Chinese, times in the bureau's
//! time zone, amounts in 元. Personal data is shown masked, as in every listing.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use std::fmt::Write as _;

/// One step of the chain as the file shows it: (time, type, service, who acted, summary).
pub type FileStep<'a> = (DateTime<Utc>, &'a str, &'a str, Option<&'a str>, &'a Value);

/// What the file is made of, read by the route.
pub struct FileData<'a> {
    pub household_id: uuid::Uuid,
    pub chain_id: uuid::Uuid,
    pub region_code: Option<&'a str>,
    /// Enrolment in the population database: (tier, status, monthly amount in fen, members as
    /// (relation, masked ID number)), when enrolled.
    pub enrolment: Option<Enrolment<'a>>,
    /// Every chain step: (time, type, service, who acted, summary).
    pub steps: Vec<FileStep<'a>>,
    /// Referrals: (department, need, status, feedback due).
    pub referrals: Vec<(String, String, String, String)>,
    /// Warnings: (kind, status, verify due, disposition).
    pub warnings: Vec<(String, String, String, String)>,
    /// Complaints: (category, status, answer due, finding).
    pub complaints: Vec<(String, String, String, String)>,
    /// Who asked for the file, and when.
    pub produced_by: &'a str,
    pub produced_at: DateTime<Utc>,
    pub timezone: Tz,
}

pub struct Enrolment<'a> {
    pub tier: &'a str,
    pub status: &'a str,
    pub monthly_amount_fen: i64,
    pub policy_version: &'a str,
    pub members: Vec<(&'a str, &'a str)>,
}

/// The Chinese name of an event type of the chain.
pub fn step_name(kind: &str) -> &'static str {
    match kind {
        "intake.application.submitted" => "申请受理",
        "intake.application.manual_review" => "转人工核查",
        "intake.application.manually_verified" => "人工核查完成",
        "intake.application.rejected" => "申请不予批准",
        "intake.disclosure.objected" => "审批公示异议",
        "verify.household.verified" => "家庭经济状况核对",
        "verify.household.reverified" => "定期复核",
        "eligibility.household.determined" => "审核确认",
        "eligibility.household.redetermined" => "动态调整",
        "eligibility.emergency.granted" => "临时救助",
        "monitor.household.enrolled" => "纳入低收入人口动态监测",
        "monitor.household.changed" => "救助变更",
        "monitor.complaint.progress" => "咨询投诉举报",
        "referral.push" => "转办至部门",
        "referral.feedback" => "部门反馈",
        "payment.instruction.created" => "生成发放指令",
        "payment.instruction.status" => "发放状态",
        "payment.recovery.opened" => "追回立案",
        _ => "其他事项",
    }
}

/// The Chinese label of a summary key, or none to leave the key out.
fn key_name(key: &str) -> Option<&'static str> {
    Some(match key {
        "application_id" => "申请编号",
        "report_id" => "核对报告",
        "complete" => "核对完整",
        "gaps" => "未获数据",
        "verified_by" => "核对人",
        "tier" => "救助类别",
        "classifications" => "分类",
        "monthly_amount_fen" => "月救助金",
        "integrity_flags" => "诚信提示",
        "policy_version" => "政策参数版本",
        "rule" => "适用规则",
        "effective_month" => "起始月份",
        "referral_id" => "转办编号",
        "department" => "部门",
        "need" => "需求",
        "feedback_due" => "反馈期限",
        "outcome" => "结果",
        "reason" => "原因",
        "decided_by" => "决定人",
        "instruction_id" => "指令编号",
        "month" => "月份",
        "kind" => "种类",
        "amount_fen" => "金额",
        "total_amount_fen" => "总金额",
        "act_first" => "先行救助",
        "papers_due" => "补齐材料期限",
        "due_date" => "期限",
        "status" => "状态",
        "complaint_id" => "投诉编号",
        "step" => "环节",
        "category" => "类别",
        "received_via" => "来源渠道",
        "answer_due" => "答复期限",
        "finding" => "核查结论",
        "on_time" => "按时办结",
        "objection_id" => "异议编号",
        "notice_until" => "公示期至",
        _ => return None,
    })
}

/// Chinese words for the values the file shows; anything else as it is.
fn word(value: &str) -> String {
    match value {
        "dibao" => "最低生活保障",
        "single_person_dibao" => "单人保",
        "destitute" => "特困人员供养",
        "marginal" => "低保边缘",
        "rigid_expenditure" => "刚性支出困难",
        "none" => "不符合条件",
        "medical" => "医疗保障",
        "education" => "教育",
        "housing" => "住房保障",
        "employment" => "就业",
        "disaster" => "应急管理",
        "active" => "在保",
        "exiting" => "渐退",
        "stopped" => "停保",
        "open" => "待核查",
        "verified" => "已核查",
        "disposed" => "已处置",
        "pending" => "待反馈",
        "answered" => "已答复",
        "received" => "已受理",
        "investigated" => "已核查",
        "escalated" => "已升级",
        "consultation" => "咨询",
        "complaint" => "投诉",
        "report" => "举报",
        "substantiated" => "属实",
        "partly_substantiated" => "部分属实",
        "unsubstantiated" => "不属实",
        "granted" => "已给予救助",
        "refused" => "不予救助",
        "true" => "是",
        "false" => "否",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// `fen` as 元 with two decimals.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02} 元", f / 100, f % 100)
}

/// `s` safe inside HTML text and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn value_text(key: &str, v: &Value) -> String {
    match v {
        Value::Number(n) if key.ends_with("_fen") => n.as_i64().map(yuan).unwrap_or_default(),
        Value::String(s) => word(s),
        Value::Bool(b) => word(&b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|i| value_text(key, i))
            .collect::<Vec<_>>()
            .join("、"),
        Value::Null => "—".to_owned(),
        Value::Object(_) => "…".to_owned(),
        other => other.to_string(),
    }
}

/// The facts of a step's summary, in Chinese, in a fixed order.
fn facts(summary: &Value) -> String {
    let Some(map) = summary.as_object() else {
        return String::new();
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            key_name(k).map(|label| format!("{label}:{}", value_text(k, &map[k.as_str()])))
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn table(
    out: &mut String,
    caption: &str,
    head: &[&str],
    rows: &[(String, String, String, String)],
) {
    let _ = write!(out, "<h2>{}</h2>", escape(caption));
    if rows.is_empty() {
        out.push_str("<p class=\"none\">无</p>");
        return;
    }
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for (a, b, c, d) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&word(a)),
            escape(&word(b)),
            escape(&word(c)),
            escape(&word(d))
        );
    }
    out.push_str("</tbody></table>");
}

/// The household file as one print-ready HTML page in Chinese.
pub fn render(f: &FileData<'_>) -> String {
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>一户一档</title>\
         <style>body{font-family:\"Noto Sans CJK SC\",\"Microsoft YaHei\",sans-serif;margin:2em;color:#111}\
         table{border-collapse:collapse;width:100%;margin-bottom:1em}th,td{border:1px solid #888;padding:4px 6px;text-align:left;vertical-align:top}\
         h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.2em}.meta{color:#333}\
         @media print{body{margin:0}@page{size:A4;margin:15mm}tr{page-break-inside:avoid}}</style></head><body><main>",
    );
    out.push_str("<h1>一户一档 · 家庭救助档案</h1>");
    let _ = write!(
        out,
        "<p class=\"meta\">家庭编号:{};业务链编号:{};所属区划:{}</p>",
        f.household_id,
        f.chain_id,
        escape(f.region_code.unwrap_or("—"))
    );
    out.push_str("<h2>家庭基本情况</h2>");
    match &f.enrolment {
        Some(e) => {
            let _ = write!(
                out,
                "<p>救助类别:{};状态:{};月救助金:{};政策参数版本:{}</p>",
                escape(&word(e.tier)),
                escape(&word(e.status)),
                yuan(e.monthly_amount_fen),
                escape(e.policy_version)
            );
            out.push_str("<table><thead><tr><th scope=\"col\">与户主关系</th><th scope=\"col\">身份证号(脱敏)</th></tr></thead><tbody>");
            for (relation, id) in &e.members {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(relation),
                    escape(id)
                );
            }
            out.push_str("</tbody></table>");
        }
        None => out.push_str("<p>尚未纳入低收入人口数据库。</p>"),
    }
    let _ = write!(out, "<h2>办理过程(共 {} 项)</h2>", f.steps.len());
    out.push_str("<table class=\"steps\"><thead><tr><th scope=\"col\">序号</th><th scope=\"col\">时间(北京时间)</th><th scope=\"col\">事项</th><th scope=\"col\">经办</th><th scope=\"col\">要点</th></tr></thead><tbody>");
    for (i, (time, kind, service, actor, summary)) in f.steps.iter().enumerate() {
        let by = actor
            .map(str::to_owned)
            .unwrap_or_else(|| format!("系统({service})"));
        let _ = write!(
            out,
            "<tr class=\"step\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            local(*time, f.timezone),
            step_name(kind),
            escape(&by),
            escape(&facts(summary))
        );
    }
    out.push_str("</tbody></table>");
    table(
        &mut out,
        "转办与部门反馈",
        &["部门", "需求", "状态", "反馈期限"],
        &f.referrals,
    );
    table(
        &mut out,
        "预警",
        &["种类", "状态", "核查期限", "处置方式"],
        &f.warnings,
    );
    table(
        &mut out,
        "咨询、投诉与举报",
        &["类别", "状态", "答复期限", "核查结论"],
        &f.complaints,
    );
    let _ = write!(
        out,
        "<p class=\"meta\">制档:{};制档时间:{}(北京时间)。本档案中的身份证号、姓名等个人信息已脱敏。</p></main></body></html>",
        escape(f.produced_by),
        local(f.produced_at, f.timezone)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_shows_each_step_in_chinese_in_beijing_time_and_escapes_text() {
        let at: DateTime<Utc> = "2026-11-16T02:00:00Z".parse().unwrap();
        let submitted =
            json!({"application_id": "a1", "tier": "dibao", "monthly_amount_fen": 123456});
        let determined = json!({"decided_by": "<script>", "tier": "dibao"});
        let f = FileData {
            household_id: uuid::Uuid::nil(),
            chain_id: uuid::Uuid::nil(),
            region_code: Some("410102001"),
            enrolment: None,
            steps: vec![
                (
                    at,
                    "intake.application.submitted",
                    "intake",
                    Some("王芳"),
                    &submitted,
                ),
                (
                    at,
                    "eligibility.household.determined",
                    "intake",
                    None,
                    &determined,
                ),
            ],
            referrals: vec![],
            warnings: vec![],
            complaints: vec![(
                "report".into(),
                "answered".into(),
                "2026-12-16".into(),
                "substantiated".into(),
            )],
            produced_by: "赵敏",
            produced_at: at,
            timezone: chrono_tz::Asia::Shanghai,
        };
        let page = render(&f);
        assert!(page.contains("2026-11-16 10:00"), "Beijing time");
        assert!(page.contains("申请受理") && page.contains("审核确认"));
        assert!(page.contains("月救助金:1234.56 元"));
        assert!(page.contains("最低生活保障"));
        assert!(page.contains("举报") && page.contains("属实"));
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert_eq!(page.matches("<tr class=\"step\">").count(), 2);
    }
}
