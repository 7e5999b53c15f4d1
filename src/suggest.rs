//! "Did you mean" suggestions, in the manner of cargo's `closest_msg`.

/// The candidate closest to `input`, if it is close enough to be a plausible typo.
/// Case and `-`/`_` differences count as nothing, so `ada-24` finds `ADA_24`.
pub fn closest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // A value far longer than any candidate cannot be near one: no distance is computed
    // (a 1 MB value would otherwise cost seconds), and lengths are compared first.
    const LONGEST: usize = 256;
    if input.len() > LONGEST {
        return None;
    }
    let folded = fold(input);
    candidates
        .into_iter()
        .filter(|c| input.len().abs_diff(c.len()) <= threshold(input.len().max(c.len())))
        .map(|c| (strsim::damerau_levenshtein(&folded, &fold(c)), c))
        .filter(|(distance, c)| *distance <= threshold(input.len().max(c.len())))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate, if any.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    closest(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn threshold(len: usize) -> usize {
    // A third of the length, as cargo does, but always allow one edit.
    (len / 3).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_case_differences() {
        let keys = ["workers", "idle_timeout", "gpu"];
        assert_eq!(closest("worker", keys), Some("workers"));
        assert_eq!(closest("idle-timeout", keys), Some("idle_timeout"));
        assert_eq!(closest("GPU", keys), Some("gpu"));
        assert_eq!(closest("datacenters", keys), None);
    }
}
