//! `make bench-pain001`: writes the pain.001 files of a month of N payment instructions (default
//! 1,000,000), one file per dedicated fund account, with payment's streamed writer
//! (`payment::iso20022::Pain001Writer`), and prints the time, the files' sizes and the peak
//! memory of the process (VmHWM). A benchmark, not a test: it prints figures.
//!
//! The instructions are generated (deterministic ids, amounts and accounts, spread over the
//! districts of `deploy/config/fund-accounts.toml`); a first pass counts each file's payments and
//! control sum, the second writes them one by one through a buffered file: memory stays bounded
//! by one transfer, whatever N.
//!
//! Options: `--instructions N`, `--out DIR` (default: a temporary directory, removed at the end
//! unless `--keep`).

use payment::iso20022::{end_to_end_id, FileHeader, Pain001Writer, Party, Transfer};
use std::io::BufWriter;
use std::time::Instant;
use uuid::Uuid;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

/// Peak resident memory of this process, in KiB (Linux `VmHWM`).
fn vm_hwm_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The i-th generated instruction: (id, district index, amount in fen, account number).
fn instruction(i: u64, districts: usize) -> (Uuid, usize, i64, String) {
    let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, &i.to_be_bytes());
    let n = id.as_u128();
    let amount = 30_000 + (n % 200_000) as i64; // 300.00 to 2299.99 yuan
    (
        id,
        (n >> 64) as usize % districts,
        amount,
        format!("6222{:012}", i),
    )
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = arg(&args, "--instructions")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let keep = args.iter().any(|a| a == "--keep");
    let out = arg(&args, "--out")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("pain001-bench-{}", std::process::id()))
        });
    std::fs::create_dir_all(&out)?;
    let funds_file = format!(
        "{}/../deploy/config/fund-accounts.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let settings: payment::config::PaymentSettings =
        serde_json::from_value(serde_json::json!({ "fund_accounts_file": funds_file }))?;
    let funds: Vec<(String, payment::config::FundAccount)> =
        settings.fund_accounts()?.into_iter().collect();
    let d = funds.len();
    println!(
        "pain.001 benchmark: {n} instructions, {d} fund accounts, files in {}",
        out.display()
    );
    let start = Instant::now();

    // Pass 1: each file's count and control sum (the header comes first in the file).
    let mut totals = vec![(0u64, 0i64); d];
    for i in 0..n {
        let (_, k, amount, _) = instruction(i, d);
        totals[k].0 += 1;
        totals[k].1 += amount;
    }
    let counted = start.elapsed();

    // Pass 2: one streamed file per fund account.
    let created = chrono::Utc::now();
    let today = created.date_naive();
    let mut bytes = 0u64;
    for (k, (district, fund)) in funds.iter().enumerate() {
        let msg_id = format!("RM{}-{district}-bench", created.format("%Y%m%d"));
        let path = out.join(format!("{msg_id}.xml"));
        let file = std::fs::File::create(&path)?;
        let header = FileHeader {
            msg_id: &msg_id,
            created,
            nb_of_txs: totals[k].0,
            ctrl_sum_fen: totals[k].1,
            initiating_party: &settings.initiating_party,
            payment_info_id: &format!("{msg_id}-1"),
            execution_date: today,
            debtor: Party {
                name: &fund.name,
                account: &fund.account,
                bank_code: &fund.bank_code,
            },
        };
        let mut w = Pain001Writer::begin(BufWriter::with_capacity(1 << 16, file), &header)?;
        for i in 0..n {
            let (id, kk, amount, account) = instruction(i, d);
            if kk != k {
                continue;
            }
            let e2e = end_to_end_id(id);
            w.transfer(&Transfer {
                end_to_end_id: &e2e,
                amount_fen: amount,
                creditor: Party {
                    name: "Beneficiary",
                    account: &account,
                    bank_code: "102491000018",
                },
                remittance: "dibao_monthly 2026-12",
            })?;
        }
        w.finish()?;
        let size = std::fs::metadata(&path)?.len();
        bytes += size;
        println!(
            "  {district}: {} transfers, {} yuan, {:.1} MiB",
            totals[k].0,
            payment::iso20022::yuan(totals[k].1),
            size as f64 / (1 << 20) as f64
        );
    }
    let total = start.elapsed();
    let hwm = vm_hwm_kib().unwrap_or(0);
    println!(
        "counted in {:.2} s; written in {:.2} s ({:.0} transfers/s, {:.1} MiB/s); {:.1} MiB of XML",
        counted.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        bytes as f64 / (1 << 20) as f64 / total.as_secs_f64(),
        bytes as f64 / (1 << 20) as f64
    );
    println!("peak memory (VmHWM): {:.1} MiB", hwm as f64 / 1024.0);
    if !keep && arg(&args, "--out").is_none() {
        std::fs::remove_dir_all(&out)?;
    }
    Ok(())
}
