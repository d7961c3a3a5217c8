DROP INDEX scans_by_user_score;
DROP TABLE scans;
