//! Running one tool of the flow: its console output into a file beside its own log, its exit
//! status checked, and an optional wall-clock limit (nextpnr can route for ever).

use crate::flow::FlowError;
use crate::tools::FoundTool;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn run_tool(
    dir: &Path,
    tool: &FoundTool,
    args: &[&str],
    log_name: &str,
) -> Result<f64, FlowError> {
    run_tool_limited(dir, tool, args, log_name, None)
}

/// Runs `tool` in `dir`, its console output into `<log_name>.console`; with a `limit`, stops it
/// after that many seconds ([`FlowError::TimeLimit`]). Returns the wall-clock seconds.
pub(crate) fn run_tool_limited(
    dir: &Path,
    tool: &FoundTool,
    args: &[&str],
    log_name: &str,
    limit_s: Option<u64>,
) -> Result<f64, FlowError> {
    let started = Instant::now();
    let console_path = dir.join(format!("{log_name}.console"));
    // yosys and nextpnr write their own -l log; keep the console output beside it.
    let console = fs::File::create(&console_path)?;
    let could_not_start = |e: std::io::Error| FlowError::Tool {
        tool: tool.path.display().to_string(),
        status: format!("could not start: {e}"),
        log: log_name.to_string(),
        tail: String::new(),
    };
    let mut child = Command::new(&tool.path)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(console.try_clone()?)
        .stderr(console)
        .spawn()
        .map_err(could_not_start)?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if limit_s.is_some_and(|l| started.elapsed().as_secs() >= l) {
            // Killing a process that has just exited fails harmlessly; wait reaps it either way.
            let _ = child.kill();
            child.wait()?;
            return Err(FlowError::TimeLimit {
                tool: tool.path.display().to_string(),
                limit_s: limit_s.unwrap_or_default(),
                log: dir.join(log_name).display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        let log = fs::read(&console_path)?;
        let text = String::from_utf8_lossy(&log);
        let tail: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("rror:"))
            .take(5)
            .collect();
        return Err(FlowError::Tool {
            tool: tool.path.display().to_string(),
            status: status.to_string(),
            log: dir.join(log_name).display().to_string(),
            tail: if tail.is_empty() {
                String::new()
            } else {
                format!(":\n  {}", tail.join("\n  "))
            },
        });
    }
    Ok(started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{Flavour, Tool};

    fn shell() -> FoundTool {
        FoundTool {
            tool: Tool::Nextpnr,
            path: "/bin/sh".into(),
            flavour: Flavour::Native,
        }
    }

    #[test]
    fn a_tool_past_its_limit_is_stopped() {
        let dir = std::env::temp_dir().join(format!("qtrain-tool-run-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let started = Instant::now();
        let r = run_tool_limited(&dir, &shell(), &["-c", "sleep 30"], "slow.log", Some(1));
        assert!(
            matches!(r, Err(FlowError::TimeLimit { limit_s: 1, .. })),
            "{r:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        // Within the limit: the exit status and the console output count.
        let ok = run_tool_limited(&dir, &shell(), &["-c", "echo hi"], "ok.log", Some(30));
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            fs::read_to_string(dir.join("ok.log.console")).unwrap(),
            "hi\n"
        );
        let failed = run_tool(
            &dir,
            &shell(),
            &["-c", "echo 'ERROR: no'; exit 3"],
            "bad.log",
        );
        match failed {
            Err(FlowError::Tool { status, tail, .. }) => {
                assert!(
                    status.contains('3') && tail.contains("ERROR: no"),
                    "{status} {tail}"
                )
            }
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
