DROP TABLE faces;
DROP TABLE photos;
