"""``invoke rehearse``: a team's first AWS deployment against the emulator (rehearse.py)."""

# Rows a class the rehearsal's ML engineer trains on by default: about the fewest with which DBPedia's
# validation split holds the MIN_RULE_SENTENCES first sentences (ml/vocabulary.py) the learned non-topic
# rule needs (`./dev train --max-rows-per-class 170` prepares 210 validation rows; 150: 196). With fewer the
# model refuses no text, and apply.yml's smoke step fails its non-topic check, as it would on AWS.
ROWS_PER_CLASS = 170
