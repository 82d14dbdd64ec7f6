//! What an experiment writes into `--out`: `results.md` (tables, checks), `results.csv` and
//! its SVG plots.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;

use super::stats::{checks_markdown, Check};
use crate::operands::write_atomically;

/// A markdown table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        headers.join(" | "),
        "---|".repeat(headers.len())
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// CSV text from a header and rows; cells holding a comma or a quote are quoted.
pub fn csv(headers: &[String], rows: &[Vec<String>]) -> String {
    fn cell(c: &str) -> String {
        if c.contains([',', '"', '\n']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.to_string()
        }
    }
    let line = |r: &[String]| r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    let mut s = line(headers) + "\n";
    for r in rows {
        s.push_str(&line(r));
        s.push('\n');
    }
    s
}

/// An experiment's results.
#[derive(Default)]
pub struct Report {
    /// Heading of `results.md`.
    pub title: String,
    /// The command that produced it, as a user would type it.
    pub command: String,
    /// Markdown sections, in order (tables with their notes).
    pub sections: Vec<String>,
    /// The qualitative checks.
    pub checks: Vec<Check>,
    /// `results.csv`.
    pub csv: String,
    /// SVG plots: file name and text.
    pub plots: Vec<(String, String)>,
    /// Other files (e.g. a second CSV): name and text.
    pub extra_files: Vec<(String, String)>,
}

impl Report {
    /// The text of `results.md`.
    pub fn markdown(&self) -> String {
        let mut s = format!("# {}\n\n```sh\n{}\n```\n\n", self.title, self.command);
        for sec in &self.sections {
            s.push_str(sec);
            s.push('\n');
        }
        if !self.checks.is_empty() {
            s.push_str("## Checks\n\n");
            s.push_str(&checks_markdown(&self.checks));
            s.push('\n');
        }
        for (name, _) in &self.plots {
            let _ = writeln!(s, "![{name}]({name})\n");
        }
        s
    }

    /// Writes `results.md`, `results.csv` and the plots into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut files = vec![
            ("results.md".to_string(), self.markdown()),
            ("results.csv".to_string(), self.csv.clone()),
        ];
        files.extend(self.plots.iter().cloned());
        files.extend(self.extra_files.iter().cloned());
        for (name, text) in files {
            write_atomically(&dir.join(&name), text.as_bytes())
                .with_context(|| format!("writing {}/{name}", dir.display()))?;
        }
        Ok(())
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_csv_layout() {
        let t = table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(t, "| a | b |\n|---|---|\n| 1 | 2 |\n");
        let c = csv(
            &["x".into(), "y".into()],
            &[vec!["1,5".into(), "say \"hi\"".into()]],
        );
        assert_eq!(c, "x,y\n\"1,5\",\"say \"\"hi\"\"\"\n");
    }
}
