"""End-to-end evaluation on the testbed: the scheduling lab's placements run for real
(``galileo sched validate``) and interference profiles measured on testbed hosts
(``galileo profile --testbed``)."""
