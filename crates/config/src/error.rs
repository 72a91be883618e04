//! What went wrong with a configuration, as a list an operator can act on.

use std::fmt;

/// Every problem found in one configuration.
///
/// Loading does not stop at the first problem: the parser and validator carry
/// on so that `leasehold check-config` can print them all at once. An
/// unreadable file is reported the same way, as a single problem with line 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in the order they were found (roughly file order).
    pub problems: Vec<Problem>,
}

/// One problem, located by file, line and JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the configuration came from, or `<inline>`.
    pub source: String,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
    /// JSON path to the offending value, such as `Dhcp4/subnet4[0]/pools`;
    /// empty when the problem is not about one value (a syntax error).
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: usize, path: &str) -> Problem {
        Problem {
            source: "kea-lab.json".into(),
            line,
            path: path.into(),
            message: "bad".into(),
        }
    }

    #[test]
    fn display_prints_one_problem_per_line() {
        let error = ConfigError {
            problems: vec![
                problem(12, "Dhcp4/subnet4[0]/pools[1]/pool"),
                problem(0, ""),
            ],
        };
        assert_eq!(
            error.to_string(),
            "kea-lab.json:12: Dhcp4/subnet4[0]/pools[1]/pool: bad\nkea-lab.json: bad"
        );
    }
}
