SET NAMES utf8mb4;
INSERT INTO cs VALUES
 (101, 'café €‚ƒ„… Š Œ ž Ÿ ÿ', 'Zażółć gęślą jaźń', 'Привет, мир', 'Žluťoučký kůň', 'مرحبا', 'Привет', 'Привіт ґ', 'Καλημέρα', 'שלום', 'Günaydın şğı',
  '中文字符', '中文', '中文字', '日本語テキスト', '①日本語～', '日本語', '한국어', '😀 𝄞 é', '😀 𝄞 é', '😀 é', 'é中', 'é中', 'plain ascii',
  'ab', 'ñ', 'Длинный текст', 'Ünïcödé', 'Bin é', 'Ąčęėįšųūž', 'Ąčęėįšųūž', 'Привет', 'café ß ∑', 'สวัสดี', '日本語'),
 (102, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (103, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '');
UPDATE cs SET l1 = 'naïve €', w1251 = 'Ёжик', gb = '汉字', u16 = '𝄞', c1 = 'é' WHERE id = 101;
UPDATE cs SET l1 = 'changed ß' WHERE id = 1;
DELETE FROM cs WHERE id = 102;
