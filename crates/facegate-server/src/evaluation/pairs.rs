//! Pair lists for the LFW verification protocol.
//!
//! The CSV files have a header `file_x,file_y,Decision` with an optional fourth column `fold`
//! (1-based in the file). `Decision` is `Yes` for a same-person pair and `No` otherwise; paths are
//! relative to the image folder.

use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use serde::Serialize;

/// Number of folds of the LFW protocol, used when the file carries no fold column.
pub const LFW_FOLDS: usize = 10;

/// One labelled pair of face images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// First image, relative to the image folder.
    pub left: String,
    /// Second image, relative to the image folder.
    pub right: String,
    /// Whether both images show the same person.
    pub same: bool,
    /// 0-based fold. [`read_pairs`] always fills it in.
    pub fold: Option<usize>,
}

/// How the folds of a pair list were set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldSource {
    /// The list's `fold` column.
    Listed,
    /// [`LFW_FOLDS`] consecutive chunks of the list, as LFW's `pairs.csv` is laid out: each
    /// chunk holds both classes.
    Consecutive,
    /// Each class dealt over the folds in turn ([`stratify`]), for a list whose consecutive
    /// chunks would not each hold both classes.
    Stratified,
}

/// The pairs of a list, every one with its fold, and how the folds were set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairList {
    pub pairs: Vec<Pair>,
    pub folds: FoldSource,
}

/// Reads a pair CSV file.
///
/// Every returned pair has `fold: Some(_)`, 0-based: taken from the `fold` column when there is
/// one, otherwise assigned as LFW does, by cutting the pairs in file order into
/// [`LFW_FOLDS`] consecutive chunks of equal size (`fold = index * 10 / len`), when each
/// chunk holds both classes; else stratified.
pub fn read_pairs(path: &Path) -> anyhow::Result<PairList> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pair file {}", path.display()))?;
    parse_pairs(&text).with_context(|| format!("invalid pair file {}", path.display()))
}

/// The labels and folds of `pairs`, as the slices the metrics take.
///
/// A pair without a fold gets the LFW fold of its position (`index * 10 / len`).
pub fn labels_and_folds(pairs: &[Pair]) -> (Vec<bool>, Vec<usize>) {
    let labels = pairs.iter().map(|p| p.same).collect();
    let folds = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| p.fold.unwrap_or_else(|| lfw_fold(i, pairs.len())))
        .collect();
    (labels, folds)
}

fn lfw_fold(index: usize, len: usize) -> usize {
    index * LFW_FOLDS / len
}

fn parse_pairs(text: &str) -> anyhow::Result<PairList> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Line numbers are 1-based and count blank lines, so they match an editor's.
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty());

    let Some((header_no, header)) = lines.next() else {
        bail!("the file is empty: expected a header `file_x,file_y,Decision[,fold]`");
    };
    let columns: Vec<String> = fields(header).map(str::to_ascii_lowercase).collect();
    let has_fold = match columns.as_slice() {
        [x, y, d] if x == "file_x" && y == "file_y" && d == "decision" => false,
        [x, y, d, f] if x == "file_x" && y == "file_y" && d == "decision" && f == "fold" => true,
        _ => bail!(
            "line {header_no}: expected the header `file_x,file_y,Decision` or \
             `file_x,file_y,Decision,fold`, found `{header}`"
        ),
    };
    let expected = if has_fold { 4 } else { 3 };

    let mut pairs = Vec::new();
    for (line_no, line) in lines {
        let row: Vec<&str> = fields(line).collect();
        ensure!(
            row.len() == expected,
            "line {line_no}: expected {expected} comma-separated fields, found {}",
            row.len()
        );
        ensure!(
            !row[0].is_empty() && !row[1].is_empty(),
            "line {line_no}: empty image path"
        );
        let same = if row[2].eq_ignore_ascii_case("yes") {
            true
        } else if row[2].eq_ignore_ascii_case("no") {
            false
        } else {
            bail!(
                "line {line_no}: Decision must be `Yes` or `No`, found `{}`",
                row[2]
            );
        };
        let fold = if has_fold {
            let fold: usize = row[3].parse().map_err(|_| {
                anyhow::anyhow!(
                    "line {line_no}: fold must be a positive integer, found `{}`",
                    row[3]
                )
            })?;
            ensure!(fold >= 1, "line {line_no}: folds are 1-based, found 0");
            Some(fold - 1)
        } else {
            None
        };
        pairs.push(Pair {
            left: row[0].to_owned(),
            right: row[1].to_owned(),
            same,
            fold,
        });
    }
    ensure!(!pairs.is_empty(), "the file holds a header but no pairs");
    let folds = if has_fold {
        FoldSource::Listed
    } else {
        assign_folds(&mut pairs)
    };
    Ok(PairList { pairs, folds })
}

/// Consecutive LFW folds when each holds both classes, else stratified ones.
fn assign_folds(pairs: &mut [Pair]) -> FoldSource {
    let len = pairs.len();
    let holds_both = (0..LFW_FOLDS).all(|fold| {
        let classes: Vec<bool> = (0..len)
            .filter(|&i| lfw_fold(i, len) == fold)
            .map(|i| pairs[i].same)
            .collect();
        classes.contains(&true) && classes.contains(&false)
    });
    if holds_both {
        for (i, pair) in pairs.iter_mut().enumerate() {
            pair.fold = Some(lfw_fold(i, len));
        }
        FoldSource::Consecutive
    } else {
        stratify(pairs);
        FoldSource::Stratified
    }
}

/// Deals each class over the folds in turn, in list order, so that every fold holds both in
/// proportion: [`LFW_FOLDS`] folds, fewer when a class has fewer pairs, at least two.
pub fn stratify(pairs: &mut [Pair]) {
    let count = |same: bool| pairs.iter().filter(|p| p.same == same).count();
    let folds = LFW_FOLDS.min(count(true)).min(count(false)).max(2);
    let mut dealt = [0_usize; 2];
    for pair in pairs {
        let next = &mut dealt[usize::from(pair.same)];
        pair.fold = Some(*next % folds);
        *next += 1;
    }
}

/// The fields of one CSV line, trimmed and without surrounding double quotes.
///
/// The LFW files have no commas or quotes inside names, so a plain split is enough.
fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|field| {
        let field = field.trim();
        field
            .strip_prefix('"')
            .and_then(|f| f.strip_suffix('"'))
            .unwrap_or(field)
            .trim()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair_lines(n: usize) -> String {
        (0..n)
            .map(|i| {
                let decision = if i % 2 == 0 { "Yes" } else { "No" };
                format!("A/A_{i:04}.jpg,B/B_{i:04}.jpg,{decision}\n")
            })
            .collect::<Vec<_>>()
            .concat()
    }

    #[test]
    fn without_fold_column_assigns_ten_consecutive_chunks() {
        let text = format!("file_x,file_y,Decision\n{}", pair_lines(20));
        let PairList {
            pairs,
            folds: source,
        } = parse_pairs(&text).unwrap();
        assert_eq!(source, FoldSource::Consecutive);
        assert_eq!(pairs.len(), 20);
        let folds: Vec<usize> = pairs.iter().map(|p| p.fold.unwrap()).collect();
        let expected: Vec<usize> = (0..20).map(|i| i / 2).collect();
        assert_eq!(folds, expected);
        assert_eq!(pairs[0].left, "A/A_0000.jpg");
        assert_eq!(pairs[0].right, "B/B_0000.jpg");
        assert!(pairs[0].same);
        assert!(!pairs[1].same);
    }

    #[test]
    fn a_short_uneven_list_gets_stratified_folds() {
        let text = format!("file_x,file_y,Decision\n{}", pair_lines(13));
        let list = parse_pairs(&text).unwrap();
        assert_eq!(list.folds, FoldSource::Stratified);
        let folds: Vec<usize> = list.pairs.iter().map(|p| p.fold.unwrap()).collect();
        // Consecutive chunks of 13 would leave folds with one pair (one class): each class
        // is dealt over six folds (the smaller class has six pairs) instead.
        assert_eq!(folds, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0]);
    }

    #[test]
    fn a_list_sorted_by_class_gets_stratified_folds() {
        use std::fmt::Write as _;
        let mut text = String::from("file_x,file_y,Decision\n");
        for i in 0..40 {
            let decision = if i < 20 { "Yes" } else { "No" };
            let _ = writeln!(text, "A/{i}.jpg,B/{i}.jpg,{decision}");
        }
        let list = parse_pairs(&text).unwrap();
        assert_eq!(list.folds, FoldSource::Stratified);
        for fold in 0..LFW_FOLDS {
            let classes: Vec<bool> = list
                .pairs
                .iter()
                .filter(|p| p.fold == Some(fold))
                .map(|p| p.same)
                .collect();
            assert_eq!(classes.iter().filter(|&&s| s).count(), 2, "fold {fold}");
            assert_eq!(classes.len(), 4, "fold {fold}");
        }
    }

    #[test]
    fn fold_column_is_one_based_in_the_file() {
        let text = "file_x,file_y,Decision,fold\n\
                    a.jpg,b.jpg,Yes,1\n\
                    c.jpg,d.jpg,No,10\n";
        let pairs = parse_pairs(text).unwrap().pairs;
        assert_eq!(
            pairs,
            vec![
                Pair {
                    left: "a.jpg".into(),
                    right: "b.jpg".into(),
                    same: true,
                    fold: Some(0),
                },
                Pair {
                    left: "c.jpg".into(),
                    right: "d.jpg".into(),
                    same: false,
                    fold: Some(9),
                },
            ]
        );
    }

    #[test]
    fn tolerates_crlf_bom_quotes_spaces_and_blank_lines() {
        let text = "\u{feff}file_x,file_y,Decision\r\n\r\n \"x/1.jpg\" , y/2.jpg ,yes\r\n";
        let pairs = parse_pairs(text).unwrap().pairs;
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].left, "x/1.jpg");
        assert_eq!(pairs[0].right, "y/2.jpg");
        assert!(pairs[0].same);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("file_x,file_y,Decision\na,b,Yes\na,b\n", "line 3"),
            ("file_x,file_y,Decision\na,b,Yes\n\na,b,Maybe\n", "line 4"),
            ("file_x,file_y,Decision,fold\na,b,Yes,0\n", "line 2"),
            ("file_x,file_y,Decision,fold\na,b,Yes,x\n", "line 2"),
            ("file_x,file_y,Decision\n,b,Yes\n", "line 2"),
            ("left,right,label\na,b,Yes\n", "line 1"),
        ];
        for (text, line) in cases {
            let err = format!("{:#}", parse_pairs(text).unwrap_err());
            assert!(err.contains(line), "`{err}` should name {line}");
        }
    }

    #[test]
    fn empty_files_are_rejected() {
        assert!(parse_pairs("").is_err());
        assert!(parse_pairs("file_x,file_y,Decision\n").is_err());
    }

    #[test]
    fn reads_a_file_and_reports_its_path_on_error() {
        let dir = std::env::temp_dir().join(format!(
            "facegate-pairs-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pairs.csv");
        std::fs::write(&path, format!("file_x,file_y,Decision\n{}", pair_lines(20))).unwrap();
        let pairs = read_pairs(&path).unwrap().pairs;
        assert_eq!(pairs.len(), 20);
        assert_eq!(pairs[19].fold, Some(9));

        let missing = dir.join("missing.csv");
        let err = format!("{:#}", read_pairs(&missing).unwrap_err());
        assert!(err.contains("missing.csv"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels_and_folds_fills_missing_folds_like_lfw() {
        let mut pairs = parse_pairs(&format!("file_x,file_y,Decision\n{}", pair_lines(20)))
            .unwrap()
            .pairs;
        pairs[3].fold = Some(7);
        pairs[5].fold = None;
        let (labels, folds) = labels_and_folds(&pairs);
        assert_eq!(labels.len(), 20);
        assert!(labels[0] && !labels[1]);
        assert_eq!(folds[3], 7);
        assert_eq!(folds[5], 2);
        assert_eq!(folds[19], 9);
    }
}
