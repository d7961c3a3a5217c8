//! The inventory: counts of what every table holds.

conformance!(metrics: the_inventory_counts_every_record);
