INSERT INTO oracle.m_b VALUES (2, 'bb');
