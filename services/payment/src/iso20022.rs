//! ISO 20022 for the bank: the pain.001.001.03 writer (customer credit transfer initiation) and
//! the pain.002 reader (customer payment status report; the bank answers with pain.002.001.11,
//! and the elements read are the same in .03). Both schemas are vendored in `xsd/`.
//!
//! Accounts are domestic Chinese account numbers (no IBAN): `CdtrAcct/Id/Othr/Id`, and the bank
//! by its 12-digit CNAPS code: `FinInstnId/ClrSysMmbId/ClrSysId/Cd = CNAPS`, `MmbId`. Amounts are
//! yuan with two decimals, from integer fen. The writer streams: a file of any size is written
//! with memory bounded by one transaction.

use quick_xml::events::Event;
use quick_xml::Reader;
use std::io::{self, Write};
use uuid::Uuid;

pub const PAIN001_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";
pub const PAIN001_NAME: &str = "pain.001.001.03";
pub const PAIN002_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.11";
pub const CURRENCY: &str = "CNY";

/// The stable end-to-end id of an instruction: its id as 32 hex digits (≤ 35 characters), so the
/// bank's answer names the instruction and a payment keeps its id across files.
pub fn end_to_end_id(instruction_id: Uuid) -> String {
    instruction_id.simple().to_string()
}

/// The instruction an end-to-end id names.
pub fn instruction_of(end_to_end_id: &str) -> Option<Uuid> {
    Uuid::try_parse(end_to_end_id).ok()
}

/// `12345` fen → `"123.45"`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02}", f / 100, f % 100)
}

/// XML text escaping, and at most `max` characters (ISO Max35Text, Max140Text).
fn text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(max) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The paying party: a dedicated fund account.
#[derive(Debug, Clone)]
pub struct Party<'a> {
    pub name: &'a str,
    pub account: &'a str,
    pub bank_code: &'a str,
}

/// One file's group header and payment information.
#[derive(Debug, Clone)]
pub struct FileHeader<'a> {
    pub msg_id: &'a str,
    pub created: chrono::DateTime<chrono::Utc>,
    pub nb_of_txs: u64,
    pub ctrl_sum_fen: i64,
    pub initiating_party: &'a str,
    pub payment_info_id: &'a str,
    pub execution_date: chrono::NaiveDate,
    pub debtor: Party<'a>,
}

/// One credit transfer.
#[derive(Debug, Clone)]
pub struct Transfer<'a> {
    pub end_to_end_id: &'a str,
    pub amount_fen: i64,
    pub creditor: Party<'a>,
    pub remittance: &'a str,
}

fn agent(w: &mut impl Write, tag: &str, bank_code: &str) -> io::Result<()> {
    write!(
        w,
        "<{tag}><FinInstnId><ClrSysMmbId><ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>{}</MmbId></ClrSysMmbId></FinInstnId></{tag}>",
        text(bank_code, 35)
    )
}

fn account(w: &mut impl Write, tag: &str, number: &str) -> io::Result<()> {
    write!(
        w,
        "<{tag}><Id><Othr><Id>{}</Id></Othr></Id><Ccy>{CURRENCY}</Ccy></{tag}>",
        text(number, 34)
    )
}

/// Writes a pain.001 file transfer by transfer. The header's count and control sum are given
/// up front (from a first pass); [`Pain001Writer::finish`] checks that the transfers match them.
pub struct Pain001Writer<W: Write> {
    w: W,
    expected_txs: u64,
    expected_sum: i64,
    txs: u64,
    sum: i64,
}

impl<W: Write> Pain001Writer<W> {
    pub fn begin(mut w: W, h: &FileHeader<'_>) -> io::Result<Self> {
        write!(
            w,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"{PAIN001_NAMESPACE}\"><CstmrCdtTrfInitn>"
        )?;
        write!(
            w,
            "<GrpHdr><MsgId>{}</MsgId><CreDtTm>{}</CreDtTm><NbOfTxs>{}</NbOfTxs><CtrlSum>{}</CtrlSum><InitgPty><Nm>{}</Nm></InitgPty></GrpHdr>",
            text(h.msg_id, 35),
            h.created.format("%Y-%m-%dT%H:%M:%S"),
            h.nb_of_txs,
            yuan(h.ctrl_sum_fen),
            text(h.initiating_party, 140),
        )?;
        write!(
            w,
            "<PmtInf><PmtInfId>{}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg><NbOfTxs>{}</NbOfTxs><CtrlSum>{}</CtrlSum><ReqdExctnDt>{}</ReqdExctnDt><Dbtr><Nm>{}</Nm></Dbtr>",
            text(h.payment_info_id, 35),
            h.nb_of_txs,
            yuan(h.ctrl_sum_fen),
            h.execution_date,
            text(h.debtor.name, 140),
        )?;
        account(&mut w, "DbtrAcct", h.debtor.account)?;
        agent(&mut w, "DbtrAgt", h.debtor.bank_code)?;
        write!(w, "<ChrgBr>SLEV</ChrgBr>")?;
        Ok(Self {
            w,
            expected_txs: h.nb_of_txs,
            expected_sum: h.ctrl_sum_fen,
            txs: 0,
            sum: 0,
        })
    }

    pub fn transfer(&mut self, t: &Transfer<'_>) -> io::Result<()> {
        if t.amount_fen <= 0 || t.end_to_end_id.is_empty() || t.end_to_end_id.len() > 35 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a transfer needs a positive amount and an end-to-end id of at most 35 characters",
            ));
        }
        let w = &mut self.w;
        write!(
            w,
            "<CdtTrfTxInf><PmtId><InstrId>{e}</InstrId><EndToEndId>{e}</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"{CURRENCY}\">{}</InstdAmt></Amt>",
            yuan(t.amount_fen),
            e = text(t.end_to_end_id, 35),
        )?;
        agent(w, "CdtrAgt", t.creditor.bank_code)?;
        write!(w, "<Cdtr><Nm>{}</Nm></Cdtr>", text(t.creditor.name, 140))?;
        account(w, "CdtrAcct", t.creditor.account)?;
        write!(
            w,
            "<RmtInf><Ustrd>{}</Ustrd></RmtInf></CdtTrfTxInf>",
            text(t.remittance, 140)
        )?;
        self.txs += 1;
        self.sum += t.amount_fen;
        Ok(())
    }

    /// Closes the document; fails when the transfers do not add up to the header.
    pub fn finish(mut self) -> io::Result<W> {
        writeln!(self.w, "</PmtInf></CstmrCdtTrfInitn></Document>")?;
        if self.txs != self.expected_txs || self.sum != self.expected_sum {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the header says {} transfers, {} fen; the file holds {}, {} fen",
                    self.expected_txs, self.expected_sum, self.txs, self.sum
                ),
            ));
        }
        self.w.flush()?;
        Ok(self.w)
    }
}

/// A bank's status of a file or of one transfer (ISO external status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankStatus {
    /// ACTC, RCVD, PDNG, ACCP, ACSP, ACWC, PART: taken, not yet settled.
    Accepted,
    /// ACSC: settlement completed on the debtor's account.
    Settled,
    /// RJCT: rejected (before settlement) — or, after settlement, returned.
    Rejected,
}

impl BankStatus {
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "ACTC" | "RCVD" | "PDNG" | "ACCP" | "ACSP" | "ACWC" | "PART" => Some(Self::Accepted),
            "ACSC" => Some(Self::Settled),
            "RJCT" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// One transfer's status in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatus {
    pub end_to_end_id: String,
    pub code: String,
    pub reason: Option<String>,
}

/// What a pain.002 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub msg_id: String,
    pub original_msg_id: String,
    pub group_status: Option<String>,
    pub group_reason: Option<String>,
    pub transactions: Vec<TxStatus>,
}

/// Reads a pain.002 document (.03 to .11). Unknown elements are skipped; a document without a
/// `MsgId`, an `OrgnlMsgId` or of another message type is refused with the reason.
pub fn parse_pain002(xml: &str) -> Result<StatusReport, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut report = StatusReport {
        msg_id: String::new(),
        original_msg_id: String::new(),
        group_status: None,
        group_reason: None,
        transactions: Vec::new(),
    };
    let mut tx: Option<TxStatus> = None;
    let mut root_ok = false;
    loop {
        match reader.read_event() {
            Err(_) => {
                return Err(format!(
                    "not well-formed XML (at byte {})",
                    reader.error_position()
                ))
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(s)) => {
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "Document" {
                        return Err("the root element is not Document".into());
                    }
                    let ns = s
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == b"xmlns")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        .unwrap_or_default();
                    if !ns.starts_with("urn:iso:std:iso:20022:tech:xsd:pain.002.") {
                        return Err("the namespace is not one of pain.002".into());
                    }
                    root_ok = true;
                }
                if name == "TxInfAndSts" {
                    tx = Some(TxStatus {
                        end_to_end_id: String::new(),
                        code: String::new(),
                        reason: None,
                    });
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                if path.last().map(String::as_str) == Some("TxInfAndSts") {
                    if let Some(t) = tx.take() {
                        report.transactions.push(t);
                    }
                }
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let value = t
                    .xml_content()
                    .map_err(|_| {
                        "a text that is not well-formed (a bad character reference)".to_owned()
                    })?
                    .into_owned();
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    [.., "CstmrPmtStsRpt", "GrpHdr", "MsgId"] => report.msg_id = value,
                    [.., "OrgnlGrpInfAndSts", "OrgnlMsgId"] => report.original_msg_id = value,
                    [.., "OrgnlGrpInfAndSts", "GrpSts"] => report.group_status = Some(value),
                    [.., "OrgnlGrpInfAndSts", "StsRsnInf", "Rsn", "Cd"] => {
                        report.group_reason = Some(value)
                    }
                    [.., "TxInfAndSts", "OrgnlEndToEndId"] => {
                        if let Some(t) = tx.as_mut() {
                            t.end_to_end_id = value;
                        }
                    }
                    [.., "TxInfAndSts", "TxSts"] => {
                        if let Some(t) = tx.as_mut() {
                            t.code = value;
                        }
                    }
                    [.., "TxInfAndSts", "StsRsnInf", "Rsn", "Cd"] => {
                        if let Some(t) = tx.as_mut() {
                            t.reason = Some(value);
                        }
                    }
                    _ => {}
                }
            }
            Ok(_) => {}
        }
    }
    if !root_ok {
        return Err("no Document element".into());
    }
    if report.msg_id.is_empty() {
        return Err("the report has no GrpHdr/MsgId".into());
    }
    if report.original_msg_id.is_empty() {
        return Err("the report has no OrgnlGrpInfAndSts/OrgnlMsgId".into());
    }
    if let Some(g) = &report.group_status {
        if BankStatus::parse(g).is_none() {
            return Err("an unknown group status (GrpSts)".into());
        }
    }
    for (i, t) in report.transactions.iter().enumerate() {
        if t.end_to_end_id.is_empty() {
            return Err("a transaction status without OrgnlEndToEndId".into());
        }
        if BankStatus::parse(&t.code).is_none() {
            return Err(format!(
                "an unknown status (TxSts) in transaction status {}",
                i + 1
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(n: u64, sum: i64) -> FileHeader<'static> {
        FileHeader {
            msg_id: "M1",
            created: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            nb_of_txs: n,
            ctrl_sum_fen: sum,
            initiating_party: "Civil Affairs <Bureau> & Co",
            payment_info_id: "M1-1",
            execution_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
            debtor: Party {
                name: "Fund",
                account: "4101020000000001",
                bank_code: "102491000018",
            },
        }
    }

    #[test]
    fn amounts_are_yuan_with_two_decimals() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(123_456), "1234.56");
        assert_eq!(yuan(-150), "-1.50");
    }

    #[test]
    fn the_end_to_end_id_is_stable_short_and_names_the_instruction() {
        let id = Uuid::new_v4();
        let e = end_to_end_id(id);
        assert_eq!(e, end_to_end_id(id));
        assert!(e.len() <= 35);
        assert_eq!(instruction_of(&e), Some(id));
    }

    #[test]
    fn the_writer_escapes_counts_and_refuses_a_file_that_does_not_add_up() {
        let mut w = Pain001Writer::begin(Vec::new(), &header(2, 30_050)).unwrap();
        for (e, amt) in [("a", 10_000), ("b", 20_050)] {
            w.transfer(&Transfer {
                end_to_end_id: e,
                amount_fen: amt,
                creditor: Party {
                    name: "Li & Wang",
                    account: "6222000011112222",
                    bank_code: "102491000018",
                },
                remittance: "dibao 2026-12",
            })
            .unwrap();
        }
        let xml = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(xml.contains("<NbOfTxs>2</NbOfTxs><CtrlSum>300.50</CtrlSum>"));
        assert!(xml.contains("Civil Affairs &lt;Bureau&gt; &amp; Co"));
        assert!(xml.contains("<InstdAmt Ccy=\"CNY\">200.50</InstdAmt>"));
        assert_eq!(xml.matches("<CdtTrfTxInf>").count(), 2);

        let mut w = Pain001Writer::begin(Vec::new(), &header(2, 100)).unwrap();
        w.transfer(&Transfer {
            end_to_end_id: "a",
            amount_fen: 100,
            creditor: header(0, 0).debtor,
            remittance: "",
        })
        .unwrap();
        assert!(w.finish().is_err());
    }

    #[test]
    fn a_status_report_is_read_with_group_and_transaction_statuses() {
        let xml = format!(
            r#"<?xml version="1.0"?><Document xmlns="{PAIN002_NAMESPACE}"><CstmrPmtStsRpt>
            <GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-12-01T10:00:00</CreDtTm></GrpHdr>
            <OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>
            <OrgnlPmtInfAndSts><OrgnlPmtInfId>M1-1</OrgnlPmtInfId>
              <TxInfAndSts><OrgnlEndToEndId>a</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
              <TxInfAndSts><OrgnlEndToEndId>b</OrgnlEndToEndId><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC01</Cd></Rsn></StsRsnInf></TxInfAndSts>
            </OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"#
        );
        let r = parse_pain002(&xml).unwrap();
        assert_eq!(r.msg_id, "R1");
        assert_eq!(r.original_msg_id, "M1");
        assert_eq!(r.group_status.as_deref(), Some("PART"));
        assert_eq!(r.transactions.len(), 2);
        assert_eq!(r.transactions[1].reason.as_deref(), Some("AC01"));
        assert_eq!(BankStatus::parse("ACSP"), Some(BankStatus::Accepted));
        assert_eq!(BankStatus::parse("ACSC"), Some(BankStatus::Settled));

        assert!(parse_pain002("<Document xmlns=\"urn:x\"/>").is_err());
        assert!(parse_pain002("not xml <").is_err());
        let bad = xml.replace("ACSC", "XXXX");
        assert!(parse_pain002(&bad).unwrap_err().contains("unknown status"));
    }
}
