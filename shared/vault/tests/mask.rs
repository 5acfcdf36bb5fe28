//! The masking rules, as a table and as properties.

#![allow(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use serde_json::json;
use vault::mask::{self, Field, Style, HIDDEN};

#[test]
fn id_numbers_keep_6_and_4_on_a_disclosure_list_and_2_and_2_in_a_log() {
    for (raw, public, log) in [
        (
            "410102199003070312",
            "410102********0312",
            "41**************12",
        ),
        (
            "11010519491231002x",
            "110105********002X",
            "11**************2X",
        ),
        (
            " 110105 19491231 002X ",
            "110105********002X",
            "11**************2X",
        ),
        ("41010219900307", HIDDEN, HIDDEN),
        ("4101021990030703121", HIDDEN, HIDDEN),
        ("", HIDDEN, HIDDEN),
        ("张三", HIDDEN, HIDDEN),
    ] {
        assert_eq!(mask::id_number(raw, Style::Public), public, "{raw}");
        assert_eq!(mask::id_number(raw, Style::Log), log, "{raw}");
    }
}

#[test]
fn names_keep_the_surname_and_a_fixed_mask() {
    for (raw, public) in [
        ("张伟", "张**"),
        ("张三丰", "张**"),
        ("王小二三", "王**"),
        ("欧阳修", "欧阳**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马**"),
        ("诸葛亮", "诸葛**"),
        ("上官婉儿", "上官**"),
        ("东方朔", "东方**"),
        ("皇甫嵩", "皇甫**"),
        ("令狐冲", "令狐**"),
        ("慕容复", "慕容**"),
        ("尉迟恭", "尉迟**"),
        ("长孙无忌", "长孙**"),
        ("宇文泰", "宇文**"),
        ("司徒雷登", "司徒**"),
        ("夏侯惇", "夏侯**"),
        ("公孙胜", "公孙**"),
        ("欧阳", "欧**"),
        ("张", HIDDEN),
        ("阿依古丽·买买提", "阿**"),
        ("Zhang Wei", "Zhang **"),
        ("Zhang Xiaoming", "Zhang **"),
        ("  Wang   Fang ", "Wang **"),
        ("Ouyang, Xiu", "Ouyang **"),
        ("Zhang", HIDDEN),
        ("", ""),
    ] {
        assert_eq!(mask::name(raw, Style::Public), public, "{raw}");
    }
    assert_eq!(mask::name("张三丰", Style::Log), HIDDEN);
    assert_eq!(mask::name("Zhang Wei", Style::Log), HIDDEN);
}

#[test]
fn accounts_keep_4_and_4_and_short_ones_less() {
    for (raw, public, log) in [
        ("6222020200111234", "6222********1234", "****1234"),
        ("6222 0202 0011 1234 567", "6222********4567", "****4567"),
        ("622202021234", "6222********1234", "****1234"),
        ("62220201234", "********1234", "****1234"),
        ("12345678", "********5678", "****5678"),
        ("1234567", HIDDEN, HIDDEN),
        ("123", HIDDEN, HIDDEN),
        ("", HIDDEN, HIDDEN),
    ] {
        assert_eq!(mask::account(raw, Style::Public), public, "{raw}");
        assert_eq!(mask::account(raw, Style::Log), log, "{raw}");
    }
}

#[test]
fn phones_keep_3_and_4_of_a_mobile() {
    for (raw, public, log) in [
        ("13812345678", "138****5678", "****5678"),
        ("+86 138-1234-5678", "138****5678", "****5678"),
        ("0371-65123456", "****3456", "****3456"),
        ("123456", HIDDEN, HIDDEN),
        ("call me", HIDDEN, HIDDEN),
    ] {
        assert_eq!(mask::phone(raw, Style::Public), public, "{raw}");
        assert_eq!(mask::phone(raw, Style::Log), log, "{raw}");
    }
}

#[test]
fn addresses_keep_their_divisions_down_to_the_county() {
    for (raw, masked) in [
        (
            "河南省郑州市中原区建设路12号院3号楼",
            "河南省郑州市中原区***",
        ),
        ("河南省郑州市新郑市龙湖镇", "河南省郑州市新郑市***"),
        ("北京市朝阳区建国路88号", "北京市朝阳区***"),
        ("北京市通州区新华大街1号", "北京市通州区***"),
        // A street whose name begins like a division is below the county: nothing of it kept.
        ("河南省郑州市中原区区一街0号", "河南省郑州市中原区***"),
        ("河南省郑州市中原区县前街0号", "河南省郑州市中原区***"),
        ("山东省济南市市中区经十路", "山东省济南市市中区***"),
        ("广东省广州市天河区体育西路", "广东省广州市天河区***"),
        (
            "广西壮族自治区南宁市青秀区民族大道",
            "广西壮族自治区南宁市青秀区***",
        ),
        (
            "内蒙古自治区锡林郭勒盟锡林浩特市",
            "内蒙古自治区锡林郭勒盟锡林浩特市***",
        ),
        (
            "新疆维吾尔自治区阿克苏地区库车市",
            "新疆维吾尔自治区阿克苏地区库车市***",
        ),
        (
            "云南省临沧市双江拉祜族佤族布朗族傣族自治县勐勐镇",
            "云南省临沧市双江拉祜族佤族布朗族傣族自治县***",
        ),
        ("广东省东莞市南城街道12号", "广东省东莞市***"),
        ("郑州市幸福小区3号楼", "郑州市***"),
        ("中原区建设路", "中原区***"),
        ("建设路12号", HIDDEN),
        ("12 Jianshe Road, Zhengzhou", HIDDEN),
        ("", HIDDEN),
    ] {
        assert_eq!(mask::address(raw, Style::Public), masked, "{raw}");
        assert_eq!(mask::address(raw, Style::Log), masked, "{raw}");
    }
}

#[test]
fn json_keys_choose_the_rule_and_every_other_text_is_hidden() {
    let mut v = json!({
        "type": "intake.application.submitted",
        "id": "0b9f1d1e-4c6a-4d47-9a53-6a3c4f6e2b11",
        "time": "2026-12-01T08:00:00+08:00",
        "region_code": "410102",
        "data": {
            "members": [
                {"name": "张三丰", "id_number": "410102199003070312", "birth_date": "1990-03-07",
                 "relation": "self", "illness": "糖尿病", "monthly_income_fen": 120000}
            ],
            "payee": {"holder_name": "Zhang Wei", "account_number": 6222020200111234_u64,
                      "phone": "13812345678", "address": "河南省郑州市中原区建设路12号"},
            "headIdNumber": "410102199003070312",
            "effective_month": "2026-12",
            "note": "he lives at 建设路12号",
            "urban": true
        }
    });
    mask::json(&mut v, Style::Log);
    assert_eq!(
        v,
        json!({
            "type": "intake.application.submitted",
            "id": "0b9f1d1e-4c6a-4d47-9a53-6a3c4f6e2b11",
            "time": "2026-12-01T08:00:00+08:00",
            "region_code": "410102",
            "data": {
                "members": [
                    {"name": "***", "id_number": "41**************12", "birth_date": "***",
                     "relation": "***", "illness": "***", "monthly_income_fen": 120000}
                ],
                "payee": {"holder_name": "***", "account_number": "****1234",
                          "phone": "****5678", "address": "河南省郑州市中原区***"},
                "headIdNumber": "41**************12",
                "effective_month": "2026-12",
                "note": "***",
                "urban": true
            }
        })
    );
    let mut public = json!({"head_name": "欧阳修", "head_id_number": "410102199003070312", "debtor_account": "6222020200111234"});
    mask::json(&mut public, Style::Public);
    assert_eq!(
        public,
        json!({"head_name": "欧阳**", "head_id_number": "410102********0312", "debtor_account": "6222********1234"})
    );
}

#[test]
fn a_payload_that_is_not_json_becomes_its_size() {
    assert_eq!(
        mask::payload("{not json", Style::Log),
        "(9 bytes, not JSON; masked)"
    );
    assert_eq!(
        mask::payload(r#"{"name":"张三"}"#, Style::Log),
        r#"{"name":"***"}"#
    );
}

#[test]
fn keys_map_to_fields() {
    for (key, field) in [
        ("id_number", Some(Field::IdNumber)),
        ("member_id_number", Some(Field::IdNumber)),
        ("name", Some(Field::Name)),
        ("holder", Some(Field::Name)),
        ("account_holder", Some(Field::Name)),
        ("account", Some(Field::Account)),
        ("account_number", Some(Field::Account)),
        ("debtorAccount", Some(Field::Account)),
        ("phone", Some(Field::Phone)),
        ("contact_mobile", Some(Field::Phone)),
        ("address", Some(Field::Address)),
        ("disability_grade", Some(Field::Hidden)),
        ("department_name", None),
        ("member_id", None),
        ("amount_fen", None),
    ] {
        assert_eq!(Field::for_key(key), field, "{key}");
    }
    assert_eq!(
        Field::IdNumber.rule(Style::Public),
        "ID number: first 6 and last 4 characters shown"
    );
}

/// The given name, the hidden middle of a number: any other in its place gives the same mask,
/// so a mask holds nothing of it, not even its length.
fn same_mask_whatever_the_middle(
    f: impl Fn(&str) -> String,
    head: &str,
    a: &str,
    b: &str,
    tail: &str,
) {
    assert_eq!(
        f(&format!("{head}{a}{tail}")),
        f(&format!("{head}{b}{tail}"))
    );
}

proptest! {
    #[test]
    fn an_id_number_mask_holds_nothing_of_the_birth_date_and_sequence(
        head in "[0-9]{6}", a in "[0-9]{8}", b in "[0-9]{8}", tail in "[0-9]{3}[0-9X]",
    ) {
        for style in [Style::Public, Style::Log] {
            same_mask_whatever_the_middle(|s| mask::id_number(s, style), &head, &a, &b, &tail);
            let m = mask::id_number(&format!("{head}{a}{tail}"), style);
            prop_assert!(!m.contains(&a));
        }
    }

    #[test]
    fn a_name_mask_holds_nothing_of_the_given_name(
        surname in "[张王李赵刘陈杨黄]", a in "[\u{4e00}-\u{9fa5}]{1,3}", b in "[\u{4e00}-\u{9fa5}]{1,3}",
    ) {
        let f = |s: &str| mask::name(s, Style::Public);
        same_mask_whatever_the_middle(f, &surname, &a, &b, "");
        prop_assert_eq!(f(&format!("{surname}{a}")), format!("{surname}**"));
    }

    #[test]
    fn a_latin_name_mask_holds_nothing_of_the_given_name(
        surname in "[A-Z][a-z]{1,8}", a in "[A-Z][a-z]{0,10}", b in "[A-Z][a-z]{0,10}( [A-Z][a-z]{0,6})?",
    ) {
        let f = |s: &str| mask::name(s, Style::Public);
        same_mask_whatever_the_middle(f, &format!("{surname} "), &a, &b, "");
    }

    #[test]
    fn an_account_mask_holds_nothing_of_its_middle_nor_its_length(
        head in "[0-9]{4}", a in "[0-9]{4,11}", b in "[0-9]{4,11}", tail in "[0-9]{4}",
    ) {
        for style in [Style::Public, Style::Log] {
            same_mask_whatever_the_middle(|s| mask::account(s, style), &head, &a, &b, &tail);
        }
        let m = mask::account(&format!("{head}{a}{tail}"), Style::Public);
        prop_assert_eq!(m.chars().filter(|c| c.is_ascii_digit()).count(), 8);
    }

    #[test]
    fn a_phone_mask_holds_nothing_of_its_middle(
        head in "1[3-9][0-9]", a in "[0-9]{4}", b in "[0-9]{4}", tail in "[0-9]{4}",
    ) {
        for style in [Style::Public, Style::Log] {
            same_mask_whatever_the_middle(|s| mask::phone(s, style), &head, &a, &b, &tail);
        }
    }

    #[test]
    fn an_address_mask_holds_nothing_below_the_county(
        street_a in "[\u{4e00}-\u{9fa5}]{2,6}路[0-9]{1,4}号", street_b in "[\u{4e00}-\u{9fa5}]{2,6}街[0-9]{1,3}号",
    ) {
        let f = |s: &str| mask::address(s, Style::Public);
        same_mask_whatever_the_middle(f, "河南省郑州市中原区", &street_a, &street_b, "");
    }

    #[test]
    fn no_mask_panics_on_any_text(s in "\\PC{0,40}") {
        for style in [Style::Public, Style::Log] {
            for f in [Field::IdNumber, Field::Name, Field::Account, Field::Phone, Field::Address, Field::Hidden] {
                let _ = f.mask(&s, style);
            }
        }
    }
}
