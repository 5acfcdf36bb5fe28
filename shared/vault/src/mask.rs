//! The masking rules, one place for every output: disclosure lists, API responses, CSV
//! reports, the staff page ([`Style::Public`]), and logs, traces, dead letters and error bodies
//! ([`Style::Log`]).
//!
//! | field | [`Style::Public`] | [`Style::Log`] |
//! |---|---|---|
//! | ID number (18 characters) | first 6 and last 4: `410102********0312` | first 2 and last 2: `41**************12` |
//! | name, Han script | surname and a fixed `**`: `张**`, `欧阳**` | `***` |
//! | name, Latin script | first word and a fixed `**`: `Zhang **` | `***` |
//! | bank account, 12 digits or more | first 4 and last 4: `6222********1234` | last 4: `****1234` |
//! | bank account, 8 to 11 digits | last 4: `********1234` | last 4: `****1234` |
//! | phone, mobile (11 digits, `1…`) | first 3 and last 4: `138****5678` | last 4: `****5678` |
//! | phone, other of 7 digits or more | last 4: `****5678` | last 4: `****5678` |
//! | address | its divisions down to the county or district: `河南省郑州市中原区***` | the same |
//! | birth date, health, disability, e-mail | `***` | `***` |
//! | anything shorter or of another shape | `***` | `***` |
//!
//! **Length.** Every mask is of a fixed width: the hidden part is always the same number of
//! `*` whatever its length, so a mask tells nothing the rule does not keep. A given name is
//! always `**`, not one `*` per character: on a village's disclosure list of a few dozen
//! households, `张*` against `张**` is often enough to tell two people apart, and the public
//! convention needs only that the surname be shown. A value the rule cannot split (a name of
//! one character or one Latin word, an account under 8 digits, a number of another length) is
//! hidden whole: a rule that would keep everything is no mask.
//!
//! **Surnames.** The first character, or the first two when they are one of the compound
//! surnames of [`COMPOUND_SURNAMES`] and at least one character follows (`欧阳` alone is read
//! as 欧 and 阳). A name with a middle dot (`阿依古丽·买买提`, a transliterated name with no
//! surname first) keeps its first character only.
//!
//! **Addresses.** Divisions are read from the front by their suffixes: a province (`省`,
//! `自治区`, `特别行政区`, or one of the four municipalities `北京市` `天津市` `上海市`
//! `重庆市`), a prefecture (`市`, `州`, `盟`, `地区`), a county (`区`, `县`, `旗`, or a `市`
//! after a prefecture). Reading stops at the county, at the first digit or non-Han character,
//! or at a segment that ends like a division but is not one (`小区`, `社区`, …). Nothing read:
//! `***`. A city without counties (东莞市) keeps down to the city. A suffix followed by another
//! is part of the name (郑州市, 通州区), except after a county: what follows a county is below
//! it, even when it begins like a division (中原区 of 中原区区一街 is kept, 区一街 is not).

use crate::blind::fold_full_width;
use serde_json::Value;

/// What stands for a value hidden whole.
pub const HIDDEN: &str = "***";

/// What a given name becomes: two `*`, whatever its length.
const GIVEN_NAME: &str = "**";

/// Compound surnames (复姓) kept whole: the common ones, with the traditional forms of the
/// most frequent.
pub const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "宇文", "司徒",
    "夏侯", "公孙", "端木", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "轩辕",
    "钟离", "闻人", "万俟", "呼延", "南宫", "西门", "百里", "东郭", "独孤", "拓跋", "赫连", "第五",
    "歐陽", "司馬", "諸葛", "東方", "長孫", "尉遲", "夏侯", "公孫",
];

/// Who reads the masked value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// A person: public disclosure lists (公示), API responses, CSV reports, the staff page.
    Public,
    /// A machine record kept long and joined with others: logs, traces, dead letters, error
    /// bodies. Stricter.
    Log,
}

/// A kind of personal field, each with its rule (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    IdNumber,
    Name,
    Account,
    Phone,
    Address,
    /// Hidden whole in every style: birth dates, health and disability facts, e-mail.
    Hidden,
}

impl Field {
    /// `raw` masked by this field's rule.
    pub fn mask(self, raw: &str, style: Style) -> String {
        match self {
            Field::IdNumber => id_number(raw, style),
            Field::Name => name(raw, style),
            Field::Account => account(raw, style),
            Field::Phone => phone(raw, style),
            Field::Address => address(raw, style),
            Field::Hidden => HIDDEN.to_owned(),
        }
    }

    /// The field's name and rule in words, for an error message that must not echo the value
    /// (`"id_number: 18 characters, 17 digits and a digit or X"` is the caller's; this says
    /// how it is shown).
    pub fn rule(self, style: Style) -> &'static str {
        match (self, style) {
            (Field::IdNumber, Style::Public) => "ID number: first 6 and last 4 characters shown",
            (Field::IdNumber, Style::Log) => "ID number: first 2 and last 2 characters shown",
            (Field::Name, Style::Public) => "name: surname shown, given name as **",
            (Field::Name, Style::Log) => "name: hidden",
            (Field::Account, Style::Public) => "account: first 4 and last 4 digits shown",
            (Field::Account, Style::Log) => "account: last 4 digits shown",
            (Field::Phone, Style::Public) => "phone: first 3 and last 4 digits of a mobile shown",
            (Field::Phone, Style::Log) => "phone: last 4 digits shown",
            (Field::Address, Style::Public | Style::Log) => "address: down to the county shown",
            (Field::Hidden, Style::Public | Style::Log) => "hidden",
        }
    }

    /// The kind of personal field a JSON key names, if any: `id_number`, `head_id_number`,
    /// `name`, `holder_name`, `account_holder`, `account`, `debtor_account`, `account_number`,
    /// `card_number`, `phone`, `mobile`, `address`, `birth_date`, `illness`, … Case, `_` and `-`
    /// do not matter (`idNumber` is `id_number`).
    pub fn for_key(key: &str) -> Option<Field> {
        let k: String = key
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let ends = |s: &str| k.ends_with(s);
        if ends("idnumber") || ends("idno") || ends("idcard") || k == "residentid" {
            Some(Field::IdNumber)
        } else if ends("holder")
            || ends("holdername")
            || (ends("name") && !NOT_PERSON_NAMES.contains(&k.as_str()))
        {
            Some(Field::Name)
        } else if ends("account")
            || ends("accountnumber")
            || ends("accountno")
            || ends("cardnumber")
            || ends("cardno")
            || k == "iban"
        {
            Some(Field::Account)
        } else if k.contains("phone") || k.contains("mobile") || k == "tel" || k == "telephone" {
            Some(Field::Phone)
        } else if ends("address") && k != "ipaddress" {
            Some(Field::Address)
        } else if HIDDEN_KEYS.iter().any(|h| k.contains(h)) {
            Some(Field::Hidden)
        } else {
            None
        }
    }
}

/// Keys ending in `name` that name no person.
const NOT_PERSON_NAMES: &[&str] = &[
    "filename",
    "departmentname",
    "regionname",
    "streamname",
    "consumername",
    "servicename",
    "hostname",
    "policyname",
    "rulename",
    "bankname",
    "branchname",
    "organisationname",
    "organizationname",
    "orgname",
    "sourcename",
    "typename",
    "fieldname",
];

/// Parts of keys whose values are hidden whole in every style.
const HIDDEN_KEYS: &[&str] = &[
    "birthdate",
    "dateofbirth",
    "birthday",
    "dob",
    "illness",
    "disability",
    "diagnosis",
    "health",
    "email",
];

/// Keys of an envelope or event that carry no personal data: their text stays readable.
const STRUCTURAL_KEYS: &[&str] = &[
    "specversion",
    "type",
    "source",
    "datacontenttype",
    "schema_version",
    "time",
    "kind",
    "status",
    "state",
    "outcome",
    "department",
    "tier",
    "reason_code",
    "period",
    "region_code",
    "subject",
    "month",
    "effective_month",
    "from_month",
    "policy_version",
    "currency",
];

fn folded(raw: &str) -> Vec<char> {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .map(fold_full_width)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// An ID number by the module's rule: 18 letters or digits, else [`HIDDEN`].
pub fn id_number(raw: &str, style: Style) -> String {
    let c = folded(raw);
    if c.len() != 18 || !c.iter().all(char::is_ascii_alphanumeric) {
        return HIDDEN.to_owned();
    }
    let (head, tail) = match style {
        Style::Public => (6, 4),
        Style::Log => (2, 2),
    };
    keep(&c, head, 18 - head - tail, tail)
}

/// `head` characters, `stars` `*`, the last `tail` characters.
fn keep(c: &[char], head: usize, stars: usize, tail: usize) -> String {
    let mut out: String = c[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', stars));
    out.extend(&c[c.len() - tail..]);
    out
}

/// A person's name by the module's rule.
pub fn name(raw: &str, style: Style) -> String {
    let s = raw.trim();
    if s.is_empty() {
        return String::new();
    }
    match style {
        Style::Log => HIDDEN.to_owned(),
        Style::Public => public_name(s),
    }
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}')
}

fn public_name(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if !chars.first().copied().is_some_and(is_han) {
        // Latin script (pinyin surname first, as a Chinese name is written): the first word.
        let mut words = s.split(|c: char| c.is_whitespace() || c == ',');
        let first = words.next().unwrap_or_default();
        return if words.any(|w| !w.is_empty()) && !first.is_empty() {
            format!("{first} {GIVEN_NAME}")
        } else {
            HIDDEN.to_owned()
        };
    }
    if chars.iter().any(|c| matches!(c, '·' | '•' | '・' | '.')) {
        return format!("{}{GIVEN_NAME}", chars[0]);
    }
    let compound: String = chars.iter().take(2).collect();
    if chars.len() >= 3 && COMPOUND_SURNAMES.contains(&compound.as_str()) {
        return format!("{compound}{GIVEN_NAME}");
    }
    if chars.len() >= 2 {
        format!("{}{GIVEN_NAME}", chars[0])
    } else {
        HIDDEN.to_owned()
    }
}

/// A bank account by the module's rule: its digits (and letters, for a foreign account) read,
/// spaces and dashes dropped.
pub fn account(raw: &str, style: Style) -> String {
    let c: Vec<char> = folded(raw).into_iter().filter(|c| *c != '-').collect();
    if c.len() < 8 || !c.iter().all(char::is_ascii_alphanumeric) {
        return HIDDEN.to_owned();
    }
    match style {
        Style::Public if c.len() >= 12 => keep(&c, 4, 8, 4),
        Style::Public => keep(&c, 0, 8, 4),
        Style::Log => keep(&c, 0, 4, 4),
    }
}

/// A phone number by the module's rule: digits read, `+86` before a mobile dropped.
pub fn phone(raw: &str, style: Style) -> String {
    let digits: Vec<char> = crate::blind::normalise_phone(raw).chars().collect();
    let other = raw
        .chars()
        .map(fold_full_width)
        .any(|c| !(c.is_ascii_digit() || c.is_whitespace() || matches!(c, '+' | '-' | '(' | ')')));
    if other || digits.len() < 7 {
        return HIDDEN.to_owned();
    }
    let mobile = digits.len() == 11 && digits[0] == '1';
    match style {
        Style::Public if mobile => keep(&digits, 3, 4, 4),
        Style::Public | Style::Log => keep(&digits, 0, 4, 4),
    }
}

/// Where a division sits, from the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Province,
    /// A municipality (直辖市): a province whose next division is a district.
    Municipality,
    Prefecture,
    County,
}

const MUNICIPALITIES: &[&str] = &["北京市", "天津市", "上海市", "重庆市"];
/// Segments that end like a division and are not one.
const NOT_DIVISIONS: &[&str] = &["小区", "社区", "校区", "园区", "街区", "景区", "厂区"];
/// The longest division name read (自治县 names run to 15 characters).
const MAX_SEGMENT: usize = 16;

/// An address by the module's rule (the same in both styles: a county is no one's address).
pub fn address(raw: &str, _style: Style) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    let (mut level, mut kept, mut start) = (Level::None, 0, 0);
    let mut i = 0;
    while i < chars.len() && level != Level::County {
        let c = chars[i];
        if !is_han(c) || i - start >= MAX_SEGMENT {
            break;
        }
        if !matches!(c, '省' | '市' | '区' | '县' | '旗' | '州' | '盟') {
            i += 1;
            continue;
        }
        let segment: String = chars[start..=i].iter().collect();
        let here = division(&segment, level);
        // A suffix followed by another (郑州市, 通州区) is part of the name, unless the segment
        // is a county already: reading stops there, and what follows is below it (中原区区一街).
        let next_is_suffix = chars
            .get(i + 1)
            .is_some_and(|n| matches!(n, '市' | '区' | '县' | '旗'));
        if !next_is_suffix || here == Some(Level::County) {
            match here {
                Some(l) => {
                    level = l;
                    kept = i + 1;
                    start = i + 1;
                }
                None => break,
            }
        }
        i += 1;
    }
    if level == Level::None {
        return HIDDEN.to_owned();
    }
    let mut out: String = chars[..kept].iter().collect();
    out.push_str(HIDDEN);
    out
}

/// The level of `segment` found after `level`, or `None` when it is no division there.
fn division(segment: &str, level: Level) -> Option<Level> {
    if NOT_DIVISIONS.iter().any(|n| segment.ends_with(n)) || segment.chars().count() < 2 {
        return None;
    }
    let top = level == Level::None;
    if top
        && (segment.ends_with('省')
            || segment.ends_with("自治区")
            || segment.ends_with("特别行政区"))
    {
        return Some(Level::Province);
    }
    if top && MUNICIPALITIES.contains(&segment) {
        return Some(Level::Municipality);
    }
    if segment.ends_with("地区") || segment.ends_with('州') || segment.ends_with('盟') {
        return (level <= Level::Province).then_some(Level::Prefecture);
    }
    if segment.ends_with('市') {
        return Some(if level <= Level::Province {
            Level::Prefecture
        } else {
            Level::County
        });
    }
    if segment.ends_with('区') || segment.ends_with('县') || segment.ends_with('旗') {
        return Some(Level::County);
    }
    None
}

/// `value` with every personal field masked by its key ([`Field::for_key`]) and, deny by
/// default, every other text `***` but UUIDs, times, dates, months and the values of the
/// structural keys (`type`, `status`, `region_code`, …). Numbers and booleans stay, except
/// under a personal key. Arrays take the key of their field.
pub fn json(value: &mut Value, style: Style) {
    mask_value(value, None, style);
}

fn mask_value(v: &mut Value, key: Option<&str>, style: Style) {
    let field = key.and_then(Field::for_key);
    match v {
        Value::String(s) => {
            *s = match field {
                Some(f) => f.mask(s, style),
                None if keeps(key, s) => return,
                None => HIDDEN.to_owned(),
            };
        }
        Value::Number(n) => {
            if let Some(f) = field {
                *v = Value::String(f.mask(&n.to_string(), style));
            }
        }
        Value::Bool(_) => {
            if field.is_some() {
                *v = Value::String(HIDDEN.to_owned());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_value(i, key, style)),
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                mask_value(item, Some(k.as_str()), style);
            }
        }
        Value::Null => {}
    }
}

fn keeps(key: Option<&str>, s: &str) -> bool {
    key.is_some_and(|k| STRUCTURAL_KEYS.contains(&k))
        || uuid::Uuid::parse_str(s).is_ok()
        || chrono::DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            .is_ok_and(|_| s.len() == 7)
}

/// [`json`] over a JSON text (a dead letter's payload, a logged body); a text that is not JSON
/// becomes its size only.
pub fn payload(text: &str, style: Style) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            json(&mut v, style);
            v.to_string()
        }
        Err(_) => format!("({} bytes, not JSON; masked)", text.len()),
    }
}
