//! Question groups: the CoTs that answer the same question (the same
//! [`super::Record::group_key`]: `question_id`, else the question text). Built once per data set
//! ([`super::Dataset::groups`]) and read by every stage that looks at siblings: the
//! signature's consensus, the graph's sibling links, the classifier's pairs, step labels,
//! training sets, partitions, generation.

use rustc_hash::FxHashMap;

/// The question groups of a list of records, in the order their first CoT appears, each
/// with its records in record order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    /// The group of each record.
    of: Vec<u32>,
    /// Records of group g: `members[starts[g]..starts[g + 1]]`.
    starts: Vec<u32>,
    members: Vec<u32>,
}

impl Groups {
    /// Groups records by their group keys (one per record, in record order).
    pub fn of<K: std::hash::Hash + Eq>(keys: impl IntoIterator<Item = K>) -> Self {
        let keys = keys.into_iter();
        let mut index: FxHashMap<K, u32> = FxHashMap::default();
        let mut of = Vec::with_capacity(keys.size_hint().0);
        let mut sizes: Vec<u32> = Vec::new();
        for key in keys {
            let next = sizes.len() as u32;
            let g = *index.entry(key).or_insert(next);
            if g == next {
                sizes.push(0);
            }
            sizes[g as usize] += 1;
            of.push(g);
        }
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        let mut at = 0u32;
        starts.push(0);
        for s in &sizes {
            at += s;
            starts.push(at);
        }
        let mut fill: Vec<u32> = starts[..sizes.len()].to_vec();
        let mut members = vec![0u32; of.len()];
        for (i, &g) in of.iter().enumerate() {
            members[fill[g as usize] as usize] = i as u32;
            fill[g as usize] += 1;
        }
        Self {
            of,
            starts,
            members,
        }
    }

    /// Groups records by a group id each (any ids: equal ids, one group; groups in the
    /// order their first record appears) — the form groups cross to a worker in.
    pub fn from_assignment(ids: &[u32]) -> Self {
        Self::of(ids.iter().copied())
    }

    /// How many groups (questions).
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// No records, no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The group of record `i`.
    pub fn group_of(&self, i: usize) -> usize {
        self.of[i] as usize
    }

    /// The records of group `g`, in record order.
    pub fn members(&self, g: usize) -> &[u32] {
        &self.members[self.starts[g] as usize..self.starts[g + 1] as usize]
    }

    /// The records of record `i`'s group (itself included).
    pub fn group_with(&self, i: usize) -> &[u32] {
        self.members(self.group_of(i))
    }

    /// The other records of record `i`'s group.
    pub fn siblings(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.group_with(i)
            .iter()
            .map(|&j| j as usize)
            .filter(move |&j| j != i)
    }

    /// Every group's records, in group order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        (0..self.len()).map(|g| self.members(g))
    }

    /// The group of every record (the group index per record, in record order).
    pub fn assignment(&self) -> &[u32] {
        &self.of
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, question: &str, qid: Option<&str>) -> crate::core::data::Record {
        crate::core::data::Record {
            id: id.into(),
            question: question.into(),
            cot: "c".into(),
            answer: None,
            question_id: qid.map(str::to_string),
            is_correct: None,
            meta: Default::default(),
        }
    }

    fn groups(rs: &[crate::core::data::Record]) -> Groups {
        Groups::of(rs.iter().map(|r| r.group_key()))
    }

    #[test]
    fn groups_by_question_id_else_text_in_first_seen_order() {
        let rs = [
            record("a", "Q1", None),
            record("b", "Q2", None),
            record("c", "Q1", None),
            record("d", "other text", Some("Q2")), // question_id wins over the text
            record("e", "Q2", Some("q9")),
        ];
        let g = groups(&rs);
        assert_eq!(g.len(), 3);
        assert_eq!(g.members(0), &[0, 2]);
        assert_eq!(g.members(1), &[1, 3]);
        assert_eq!(g.members(2), &[4]);
        assert_eq!(g.group_of(3), 1);
        assert_eq!(g.siblings(2).collect::<Vec<_>>(), vec![0]);
        assert_eq!(g.siblings(4).count(), 0);
        assert_eq!(g.assignment(), &[0, 1, 0, 1, 2]);
        let all: Vec<&[u32]> = g.iter().collect();
        assert_eq!(all, vec![&[0u32, 2][..], &[1, 3], &[4]]);
        assert!(groups(&[]).is_empty());
        // ids as they cross to a worker: the same groups
        assert_eq!(Groups::from_assignment(&[7, 3, 7, 3, 9]), g);
    }

    #[test]
    fn every_record_is_in_exactly_its_group() {
        let rs: Vec<crate::core::data::Record> = (0..50)
            .map(|i| record(&i.to_string(), &format!("Q{}", (i * 7) % 11), None))
            .collect();
        let g = groups(&rs);
        let mut seen = vec![0; rs.len()];
        for (k, m) in g.iter().enumerate() {
            assert!(m.windows(2).all(|w| w[0] < w[1]), "record order");
            for &i in m {
                seen[i as usize] += 1;
                assert_eq!(g.group_of(i as usize), k);
                assert_eq!(rs[i as usize].group_key(), rs[m[0] as usize].group_key());
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }
}
