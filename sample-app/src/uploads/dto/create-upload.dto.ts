import { IsBase64, IsString, Length, Matches } from 'class-validator';

/**
 * A file sent as JSON: its name, MIME type and base64 content. Small files only (the JSON body
 * limit is 100 KB on Express); a production upload would stream multipart to object storage.
 */
export class CreateUploadDto {
  @IsString()
  @Length(1, 255)
  filename!: string;

  @IsString()
  @Matches(/^[a-z]+\/[a-z0-9.+-]+$/i)
  mimeType!: string;

  @IsString()
  @IsBase64()
  content!: string;
}
