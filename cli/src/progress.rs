//! Progress for long work on a terminal (`indicatif`): a spinner on stderr with what is being
//! waited for and for how long. Nothing at all when stderr is not a terminal or with `--json`,
//! so scripts and pipes see only the answer.

use std::io::IsTerminal;
use std::time::Duration;

pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub fn start(json: bool, message: &str) -> Progress {
        if json || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    pub fn say(&self, message: String) {
        if let Some(b) = &self.0 {
            b.set_message(message);
        }
    }

    /// Prints a line above the spinner (or just prints it when there is none).
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
